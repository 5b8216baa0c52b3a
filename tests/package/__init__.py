"""The package as a whole: the wheel, its shipped resources, one copy of each primitive."""
