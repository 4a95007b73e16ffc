"""Cursor pagination on the primary key: stable under concurrent inserts and O(1) per page at any depth."""
from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    ordering = "-pk"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
