"""The web console (`facepipe console`): upload images, follow executions, see their graphs.

Nothing is imported here, so `import facepipe.console` stays cheap; the app lives in
``facepipe.console.app`` and is built over a ``ConsoleSource`` (offline pipeline or AWS).
"""
