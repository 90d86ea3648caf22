"""The audit trail (docs/audit.md) and the auditor's role; on PostgreSQL the trigger that
refuses any UPDATE or DELETE of the trail."""

import django.utils.timezone
from django.db import migrations, models


def install(apps, schema_editor):
    from ledger import triggers

    triggers.install(schema_editor.connection, "audit")


def uninstall(apps, schema_editor):
    from ledger import triggers

    triggers.uninstall(schema_editor.connection, "audit")


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0018_job_retry'),
    ]

    operations = [
        migrations.AlterField(
            model_name='user',
            name='role',
            field=models.CharField(blank=True, choices=[('supervisor', 'Supervisor'), ('official', 'Department official'), ('leader', 'Leader'), ('administrator', 'Administrator'), ('auditor', 'Auditor')], max_length=20, verbose_name='role'),
        ),
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='at')),
                ('kind', models.CharField(choices=[('sign_in', 'Signed in'), ('sign_in_failed', 'Sign-in failed'), ('sign_out', 'Signed out'), ('locked_out', 'Locked out'), ('account', 'Account and permissions'), ('item', 'Item change'), ('notice', 'Notice edit'), ('publication', 'Publication'), ('masking', 'Masking lifted or restored'), ('export', 'Export'), ('download', 'Evidence download')], max_length=20, verbose_name='kind')),
                ('actor_id', models.PositiveIntegerField(blank=True, null=True, verbose_name='account id')),
                ('username', models.CharField(blank=True, max_length=150, verbose_name='user name')),
                ('actor_name', models.CharField(blank=True, max_length=150, verbose_name='name')),
                ('summary', models.CharField(max_length=500, verbose_name='what')),
                ('target', models.CharField(blank=True, max_length=200, verbose_name='on')),
                ('detail', models.JSONField(blank=True, default=dict, verbose_name='details')),
                ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='address')),
            ],
            options={
                'verbose_name': 'audit trail line',
                'verbose_name_plural': 'audit trail',
                'ordering': ['-at', '-id'],
                'indexes': [models.Index(fields=['kind', '-at'], name='audit_kind_at'), models.Index(fields=['username', '-at'], name='audit_username_at')],
            },
        ),
        migrations.RunPython(install, uninstall),
    ]
