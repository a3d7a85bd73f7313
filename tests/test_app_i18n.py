"""The dashboard in Chinese through Streamlit's AppTest: the language comes from ?lang=, from the
sidebar switch (remembered in the session and written back to the address), or from the trial file."""
import pytest
from conftest import ROOT, run_app
from streamlit.testing.v1 import AppTest


def _app() -> AppTest:
    return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)


def _sidebar_words(at) -> str:
    return " ".join([s.label for s in at.sidebar.selectbox] + [c.value for c in at.sidebar.caption])


@pytest.mark.app
def test_overview_in_chinese_from_the_address(app_env):
    at = _app()
    at.query_params["lang"] = "zh_CN"
    run_app(at)
    words = _sidebar_words(at)
    for zh in ("语言", "数据截点", "当前视图", "实验室分级：CTCAE v5.0（记录版本）", "本地模式"):
        assert zh in words
    for en in ("Data cut", "In view", "Local mode", "Lab grades"):
        assert en not in words
    cut = next(s for s in at.sidebar.selectbox if s.label == "数据截点")
    assert cut.options[:2] == ["实时（今天）", "其他日期"]
    assert at.query_params["lang"] == ["zh_CN"] or at.query_params["lang"] == "zh_CN"


@pytest.mark.app
def test_switching_language_in_the_sidebar_is_remembered(app_env):
    at = run_app(_app())
    assert "Data cut" in _sidebar_words(at)
    switch = next(s for s in at.sidebar.selectbox if s.label.endswith("Language"))
    switch.set_value("zh_CN")
    run_app(at)
    assert "数据截点" in _sidebar_words(at)
    assert at.session_state["language"] == "zh_CN"
    at.switch_page("app/pages/labs.py")        # another page keeps the choice
    run_app(at)
    assert "数据截点" in _sidebar_words(at)
    next(s for s in at.sidebar.selectbox if s.label.endswith("Language")).set_value("en")
    run_app(at)
    assert "Data cut" in _sidebar_words(at)


@pytest.mark.app
def test_default_language_comes_from_the_trial_file(app_env, tmp_path, monkeypatch):
    trial = (ROOT / "trial.toml").read_text(encoding="utf-8").replace('language = "en"', 'language = "zh_CN"', 1)
    (tmp_path / "trial.toml").write_text(trial, encoding="utf-8")
    monkeypatch.setenv("TOXDB_TRIAL", str(tmp_path / "trial.toml"))
    at = run_app(_app())
    assert "数据截点" in _sidebar_words(at)
