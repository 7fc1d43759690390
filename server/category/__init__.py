"""Departments, the category taxonomy (components 部件 and events 事件, GB/T 47678.5) and case tags."""
