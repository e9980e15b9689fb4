"""Slack: the incident channel, announcements, slash commands and signed requests.

`client` talks to the Web API (one operation per method, failures as delivery errors);
`rules` holds Slack's own naming and length rules; `messages` and `reminders` build what
is posted (pure); `commands` parses `/incident` and button presses (pure); `signature`
checks that a request came from Slack.
"""
