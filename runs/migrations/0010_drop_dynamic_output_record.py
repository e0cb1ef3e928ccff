"""The yielded keys are read from the run's DYNAMIC_OUTPUT events (``event_rows.yielded_keys``), which hold
the same keys and refs in the same order: a second copy of every key cost ~280 bytes a key on disk and an
insert per key. Runs recorded before keep their events, so they re-execute as before."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('runs', '0009_step_indexes_key_search'),
    ]

    operations = [
        migrations.DeleteModel(
            name='DynamicOutputRecord',
        ),
    ]
