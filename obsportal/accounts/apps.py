from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "obsportal.accounts"
    label = "accounts"
    verbose_name = "Accounts, roles and agent credentials"
