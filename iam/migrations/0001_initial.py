"""Accounts, users and access keys move from the console app to iam, tables and all data
unchanged: the tables keep their console_* names (``db_table``), so this migration only
tells Django's state that the models are iam's now (the console's 0003 drops them from its
state, after the other apps' foreign keys are re-pointed here). Existing content types are
renamed, so existing permission rows keep naming the same models."""

import django.contrib.auth.models
import django.contrib.auth.validators
import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from collections.abc import Callable

from django.apps.registry import Apps
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

MODELS = ["account", "user", "accesskey"]


def _rename_content_types(old: str, new: str) -> Callable[[Apps, BaseDatabaseSchemaEditor], None]:
    def rename(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        db = schema_editor.connection.alias
        if not content_type.objects.using(db).filter(app_label=new, model__in=MODELS).exists():
            content_type.objects.using(db).filter(app_label=old, model__in=MODELS).update(
                app_label=new
            )

    return rename


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        # The tables this state describes are created there.
        ("console", "0002_user_name_unique_per_account"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Account",
                    fields=[
                        (
                            "id",
                            models.CharField(
                                max_length=12,
                                primary_key=True,
                                serialize=False,
                                validators=[
                                    django.core.validators.RegexValidator(
                                        "^\\d{12}$", "An account id is 12 digits."
                                    )
                                ],
                            ),
                        ),
                        ("name", models.CharField(blank=True, max_length=100)),
                        ("created", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "console_account",
                    },
                ),
                migrations.CreateModel(
                    name="User",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("password", models.CharField(max_length=128, verbose_name="password")),
                        (
                            "last_login",
                            models.DateTimeField(blank=True, null=True, verbose_name="last login"),
                        ),
                        (
                            "is_superuser",
                            models.BooleanField(
                                default=False,
                                help_text="Designates that this user has all permissions without explicitly assigning them.",
                                verbose_name="superuser status",
                            ),
                        ),
                        (
                            "first_name",
                            models.CharField(blank=True, max_length=150, verbose_name="first name"),
                        ),
                        (
                            "last_name",
                            models.CharField(blank=True, max_length=150, verbose_name="last name"),
                        ),
                        (
                            "email",
                            models.EmailField(
                                blank=True, max_length=254, verbose_name="email address"
                            ),
                        ),
                        (
                            "is_staff",
                            models.BooleanField(
                                default=False,
                                help_text="Designates whether the user can log into this admin site.",
                                verbose_name="staff status",
                            ),
                        ),
                        (
                            "is_active",
                            models.BooleanField(
                                default=True,
                                help_text="Designates whether this user should be treated as active. Unselect this instead of deleting accounts.",
                                verbose_name="active",
                            ),
                        ),
                        (
                            "date_joined",
                            models.DateTimeField(
                                default=django.utils.timezone.now, verbose_name="date joined"
                            ),
                        ),
                        (
                            "username",
                            models.CharField(
                                help_text="Letters, digits and @/./+/-/_ only; unique within the account.",
                                max_length=150,
                                validators=[
                                    django.contrib.auth.validators.UnicodeUsernameValidator()
                                ],
                            ),
                        ),
                        (
                            "groups",
                            models.ManyToManyField(
                                blank=True,
                                help_text="The groups this user belongs to. A user will get all permissions granted to each of their groups.",
                                related_name="user_set",
                                related_query_name="user",
                                to="auth.group",
                                verbose_name="groups",
                            ),
                        ),
                        (
                            "user_permissions",
                            models.ManyToManyField(
                                blank=True,
                                help_text="Specific permissions for this user.",
                                related_name="user_set",
                                related_query_name="user",
                                to="auth.permission",
                                verbose_name="user permissions",
                            ),
                        ),
                        (
                            "account",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="users",
                                to="iam.account",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "user",
                        "verbose_name_plural": "users",
                        "db_table": "console_user",
                        "abstract": False,
                    },
                    managers=[
                        ("objects", django.contrib.auth.models.UserManager()),
                    ],
                ),
                migrations.CreateModel(
                    name="AccessKey",
                    fields=[
                        (
                            "access_key_id",
                            models.CharField(max_length=20, primary_key=True, serialize=False),
                        ),
                        ("secret_access_key", models.CharField(max_length=40)),
                        (
                            "status",
                            models.CharField(
                                choices=[("Active", "Active"), ("Inactive", "Inactive")],
                                default="Active",
                                max_length=8,
                            ),
                        ),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        ("last_used", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="access_keys",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "console_accesskey",
                    },
                ),
                migrations.AddConstraint(
                    model_name="user",
                    constraint=models.UniqueConstraint(
                        fields=("account", "username"),
                        name="user_name_unique_per_account",
                        violation_error_message="A user with that name already exists in this account.",
                    ),
                ),
            ],
        ),
        migrations.RunPython(
            _rename_content_types("console", "iam"), _rename_content_types("iam", "console")
        ),
    ]
