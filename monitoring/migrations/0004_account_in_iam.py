"""The account (and user) models moved to the iam app, tables unchanged: re-point the
foreign keys in Django's state only; the database constraints already name those tables."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("iam", "0001_initial"),
        ("monitoring", "0003_async_event_metrics"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="loggroup",
                    name="account",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="log_groups",
                        to="iam.account",
                    ),
                ),
                migrations.AlterField(
                    model_name="metricpoint",
                    name="account",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="iam.account",
                    ),
                ),
            ],
        ),
    ]
