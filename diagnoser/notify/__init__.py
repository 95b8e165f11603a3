"""Notifications: tell a team's Slack, Mattermost or webhook about new, regressed and spiking causes, and once a
day what hurt most. The outbox is written by the store (diagnoser.store.outbox); the worker here delivers it.

Never imports flask: the worker runs without the web app (`diagnoser worker`, or a child of `diagnoser serve`).
"""
