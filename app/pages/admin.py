"""Admin (data managers): who may sign in, with which role and site(s) (D61). The same checks and
audit as `python -m toxdb users ...`; nothing is deleted, a person is disabled."""
import streamlit as st

from app import state
from toxdb.access import ACTIONS, role_names
from toxdb.i18n import _
from toxdb.users import UserError, add_user, set_user

state.require("users")
store = state.base_store()                  # people of every site
trial = state.get_trial()
me = state.person()
st.title(_("Admin: users"))
st.caption(_("People sign in with their hospital account; their e-mail is looked up here. A role's actions "
             "are set in the trial file."))

flash = st.session_state.pop("admin_flash", None)
if flash:
    st.success(flash)

users = store.users()
if users.empty:
    st.info(_("No users yet. Add the first data manager below (or with `python -m toxdb users add`)."))
else:
    shown = users.assign(sites=users["sites"].map(lambda s: ", ".join(s) if s is not None else ""))
    st.dataframe(shown.rename(columns={"identity": _("E-mail"), "name": _("Name"), "role": _("Role"),
                                       "sites": _("Sites"), "active": _("Active"), "changed_at": _("Changed at"),
                                       "changed_by": _("Changed by")}), hide_index=True, width="stretch")

with st.expander(_("What each role may do")):
    for name, role in trial.roles.named().items():
        where = _("own site(s) only") if role.own_sites_only else _("all sites")
        st.markdown(f"**{name}** ({where}): " + "; ".join(_(ACTIONS[a]) for a in role.actions))

roles = role_names(trial)
known_sites = store.sites()
st.subheader(_("Add or change a user"))
with st.form("user_form"):
    identity = st.text_input(_("E-mail"), key="admin_email").strip()
    name = st.text_input(_("Name"), key="admin_name").strip()
    role = st.selectbox(_("Role"), roles, key="admin_role")
    sites = st.multiselect(_("Sites"), known_sites, key="admin_sites")
    new_site = st.text_input(_("A new site (no data yet)"), key="admin_new_site").strip()
    active = st.checkbox(_("Active"), value=True, key="admin_active")
    if st.form_submit_button(_("Save"), type="primary") and identity:
        chosen = sites + ([new_site] if new_site else [])
        try:
            if store.user(identity) is None:
                add_user(store, identity, role=role, sites=chosen, name=name or None, new_sites=bool(new_site),
                         actor=me.identity, trial=trial)
                if not active:
                    set_user(store, identity, active=False, actor=me.identity, trial=trial)
            else:
                set_user(store, identity, role=role, sites=chosen, name=name or None, active=active,
                         new_sites=bool(new_site), actor=me.identity, trial=trial)
        except UserError as exc:
            st.error(str(exc), icon=":material/block:")
        else:
            st.session_state["admin_flash"] = _("Saved {identity}.").format(identity=identity.lower())
            st.rerun()
