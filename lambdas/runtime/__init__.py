"""Lambda runtime glue shared by the steps: logging and metrics, configuration from the
environment, reading the payload the state machine passes."""
