"""The account (and user) models moved to the iam app, tables unchanged: re-point the
foreign keys in Django's state only; the database constraints already name those tables."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("iam", "0001_initial"),
        ("invocations", "0002_async_deliveries"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="asyncinvocation",
                    name="account",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="async_invocations",
                        to="iam.account",
                    ),
                ),
            ],
        ),
    ]
