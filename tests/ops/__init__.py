"""Operations plane: schedules (next, the scheduler worker, review gates and notifications)."""
