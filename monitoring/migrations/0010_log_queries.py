from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("iam", "0001_initial"),
        ("monitoring", "0009_alarms"),
    ]

    operations = [
        migrations.CreateModel(
            name="LogQuery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("query_id", models.CharField(max_length=64, unique=True)),
                ("query_string", models.TextField()),
                ("group_ids", models.JSONField(default=list)),
                ("group_names", models.JSONField(default=list)),
                ("start_time", models.BigIntegerField()),
                ("end_time", models.BigIntegerField()),
                ("limit", models.PositiveIntegerField()),
                ("status", models.CharField(default="Scheduled", max_length=16)),
                ("created", models.BigIntegerField()),
                ("deadline", models.BigIntegerField()),
                ("finished", models.BigIntegerField(blank=True, null=True)),
                ("results", models.JSONField(default=list)),
                ("records_matched", models.BigIntegerField(default=0)),
                ("records_scanned", models.BigIntegerField(default=0)),
                ("bytes_scanned", models.BigIntegerField(default=0)),
                ("error", models.TextField(blank=True, default="")),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="iam.account",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["account", "status"], name="log_query_account_status"),
                    models.Index(fields=["created"], name="log_query_created"),
                ],
            },
        ),
    ]
