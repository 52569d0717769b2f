from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"

    def ready(self) -> None:
        from common.fastsql import psycopg_query_cache_widen

        psycopg_query_cache_widen()
