"""Incident tickets in an issue tracker (Jira Cloud, Jira Data Center, GitHub Issues),
kept in step with the incident through the durable outbox."""
