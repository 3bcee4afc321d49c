from django.db import models


class ClientRollup(models.Model):
    """One row per client with what the console grid shows; refreshed by the client's own tasks."""

    client = models.OneToOneField("tenancy.Client", on_delete=models.CASCADE, related_name="rollup")
    open_alerts = models.PositiveIntegerField(default=0)
    open_critical = models.PositiveIntegerField(default=0)
    open_high = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Rollup for {self.client}"


class AlertFeedItem(models.Model):
    """A copy of each client's active alerts, so the console's feed never queries client schemas."""

    client = models.ForeignKey("tenancy.Client", on_delete=models.CASCADE, related_name="alert_feed")
    alert_id = models.BigIntegerField()
    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=10)
    severity_rank = models.PositiveSmallIntegerField()
    subject = models.CharField(max_length=300)
    state = models.CharField(max_length=14)
    owner_email = models.CharField(max_length=254, blank=True)
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["severity_rank", "-last_seen_at"]
        constraints = [models.UniqueConstraint(fields=["client", "alert_id"], name="feed_one_row_per_alert")]
        indexes = [models.Index(fields=["severity_rank", "-last_seen_at"])]

    @property
    def url(self) -> str:
        return f"/c/{self.client.slug}/alerts/{self.alert_id}/"
