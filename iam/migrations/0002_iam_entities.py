"""IAM's entities: users get their UserId (AIDA...), path and tags (existing users are given
ids here); groups, roles, customer managed policies with their versions, attachments, inline
policies, and STS's temporary credentials."""

import secrets
import string

import django.db.models.deletion
from django.apps.registry import Apps
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.conf import settings
from django.db import migrations, models


def _give_users_ids(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    user_model = apps.get_model("iam", "User")
    alphabet = string.ascii_uppercase + "234567"
    db = schema_editor.connection.alias
    for user in user_model.objects.using(db).filter(iam_id="").only("pk"):
        user.iam_id = "AIDA" + "".join(secrets.choice(alphabet) for _ in range(16))
        user.save(update_fields=["iam_id"])


class Migration(migrations.Migration):

    dependencies = [
        ('iam', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='iam_id',
            field=models.CharField(blank=True, default='', max_length=32),
        ),
        migrations.RunPython(_give_users_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='user',
            name='iam_id',
            field=models.CharField(blank=True, default='', max_length=32, unique=True),
        ),
        migrations.AddField(
            model_name='user',
            name='path',
            field=models.CharField(default='/', max_length=512),
        ),
        migrations.AddField(
            model_name='user',
            name='tags',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.CreateModel(
            name='Group',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=128)),
                ('path', models.CharField(default='/', max_length=512)),
                ('group_id', models.CharField(max_length=32, unique=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='iam_groups', to='iam.account')),
                ('members', models.ManyToManyField(blank=True, related_name='iam_groups', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.CreateModel(
            name='ManagedPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=128)),
                ('path', models.CharField(default='/', max_length=512)),
                ('policy_id', models.CharField(max_length=32, unique=True)),
                ('description', models.CharField(blank=True, default='', max_length=1000)),
                ('default_version_id', models.CharField(default='v1', max_length=16)),
                ('next_version', models.PositiveIntegerField(default=1)),
                ('tags', models.JSONField(blank=True, default=dict)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='policies', to='iam.account')),
            ],
        ),
        migrations.CreateModel(
            name='PolicyVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('version_id', models.CharField(max_length=16)),
                ('document', models.TextField()),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('policy', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='iam.managedpolicy')),
            ],
        ),
        migrations.CreateModel(
            name='Role',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=64)),
                ('path', models.CharField(default='/', max_length=512)),
                ('role_id', models.CharField(max_length=32, unique=True)),
                ('assume_role_policy_document', models.TextField()),
                ('description', models.CharField(blank=True, default='', max_length=1000)),
                ('max_session_duration', models.PositiveIntegerField(default=3600)),
                ('tags', models.JSONField(blank=True, default=dict)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='roles', to='iam.account')),
            ],
        ),
        migrations.CreateModel(
            name='PolicyAttachment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('policy_arn', models.CharField(max_length=2048)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='iam.account')),
                ('group', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='iam.group')),
                ('policy', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='iam.managedpolicy')),
                ('user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('role', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='iam.role')),
            ],
        ),
        migrations.CreateModel(
            name='InlinePolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=128)),
                ('document', models.TextField()),
                ('group', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='iam.group')),
                ('user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('role', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='iam.role')),
            ],
        ),
        migrations.CreateModel(
            name='TemporaryCredential',
            fields=[
                ('access_key_id', models.CharField(max_length=20, primary_key=True, serialize=False)),
                ('secret_access_key', models.CharField(max_length=40)),
                ('session_token_sha256', models.CharField(max_length=64)),
                ('session_name', models.CharField(blank=True, default='', max_length=64)),
                ('expiration', models.DateTimeField(db_index=True)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='iam.account')),
                ('role', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='iam.role')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddConstraint(
            model_name='group',
            constraint=models.UniqueConstraint(fields=('account', 'name'), name='group_name_unique'),
        ),
        migrations.AddConstraint(
            model_name='managedpolicy',
            constraint=models.UniqueConstraint(fields=('account', 'name'), name='policy_name_unique'),
        ),
        migrations.AddConstraint(
            model_name='policyversion',
            constraint=models.UniqueConstraint(fields=('policy', 'version_id'), name='policy_version_unique'),
        ),
        migrations.AddConstraint(
            model_name='role',
            constraint=models.UniqueConstraint(fields=('account', 'name'), name='role_name_unique'),
        ),
        migrations.AddConstraint(
            model_name='policyattachment',
            constraint=models.UniqueConstraint(fields=('policy_arn', 'user', 'group', 'role'), name='attachment_unique'),
        ),
        migrations.AddConstraint(
            model_name='inlinepolicy',
            constraint=models.UniqueConstraint(fields=('name', 'user', 'group', 'role'), name='inline_policy_unique'),
        ),
    ]
