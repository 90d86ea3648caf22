from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class RectifyBackend(ModelBackend):
    """Django's model backend, loading the signed-in user with their department and leader.

    The user is loaded on every request and every page's header names their department:
    one join here instead of one more query per page.
    """

    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("department", "leader").get(
                pk=user_id
            )
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
