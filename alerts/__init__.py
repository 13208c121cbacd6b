"""Alerts: what to tell (policy), to whom (routing), in Chinese (messages), through apprise (deliver)."""
