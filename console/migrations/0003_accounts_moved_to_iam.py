"""Accounts, users and access keys are the iam app's now (iam's 0001): drop them from the
console's state only. Their tables stay, under their console_* names, as iam's."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0002_user_name_unique_per_account"),
        ("iam", "0001_initial"),
        # Every foreign key to these models points at iam's first.
        ("functions", "0004_account_in_iam"),
        ("invocations", "0003_account_in_iam"),
        ("monitoring", "0004_account_in_iam"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="AccessKey"),
                migrations.DeleteModel(name="User"),
                migrations.DeleteModel(name="Account"),
            ],
        ),
    ]
