"""Notifications to on-call: a decision as an email or a Slack message, through Airflow's notifiers.

``smtp.RetrainGateSmtpNotifier`` and ``slack.RetrainGateSlackNotifier`` (extra ``slack``) build on the SMTP
and Slack providers' notifiers; ``message`` renders the decision and ``context`` reads it from XCom.
"""
