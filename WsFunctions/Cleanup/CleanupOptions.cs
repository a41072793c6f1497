namespace ServerlessWs.Functions.Cleanup;

/// <summary>The <c>Cleanup</c> section.</summary>
public sealed class CleanupOptions
{
    public const string SectionName = "Cleanup";

    /// <summary>NCRONTAB schedule (with seconds) of <c>CleanupStaleEntries</c>, read by the timer trigger as <c>%Cleanup:Schedule%</c>.</summary>
    public string Schedule { get; set; } = "*/15 * * * * *";
}
