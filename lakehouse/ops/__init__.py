"""Operations plane: scheduled tasks (their schedules and, next, the worker), review gates, notifications."""
