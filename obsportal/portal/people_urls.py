from django.urls import path

from obsportal.portal import people

app_name = "people"
urlpatterns = [
    path("", people.users, name="users"),
    path("invite/", people.invite_user, name="invite"),
    path("<int:pk>/role/", people.change_role, name="role"),
    path("<int:pk>/deactivate/", people.deactivate, name="deactivate"),
    path("<int:pk>/reactivate/", people.reactivate, name="reactivate"),
    path("credentials/", people.credentials, name="credentials"),
    path("credentials/issue/", people.issue_credential, name="credential-issue"),
    path("credentials/<int:pk>/revoke/", people.revoke_credential, name="credential-revoke"),
    path("credentials/<int:pk>/rotate/", people.rotate_credential, name="credential-rotate"),
]
