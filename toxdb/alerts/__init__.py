"""E-mail alerts: deaths, serious adverse events, grade 4 non-haematological events and stopping
boundaries crossed, to the people the trial file names, the day a site uploads them
(docs/decisions.md, D90 to D97).

rules.py    which stored events meet which rule, and who hears of it (the trial file's [alerts])
detect.py   after an import: what is new, what a correction withdrew; the outbox rows
message.py  the message in words, for one role
deliver.py  SMTP delivery with retries and back-off
notify.py   after an import: raise, then send what is due
outbox.py   the outbox in words for the page, the sidebar and the CLI
"""
