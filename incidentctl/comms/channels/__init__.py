"""Notification channels: Slack, Teams, Mattermost, Discord, webhooks, email, PagerDuty."""
