using System.ComponentModel.DataAnnotations;

namespace ServerlessWs.Functions.Cleanup;

/// <summary>The <c>Cleanup</c> section: when <c>CleanupStaleEntries</c> runs and how much it reads per run.</summary>
public sealed class CleanupOptions
{
    public const string SectionName = "Cleanup";

    /// <summary>NCRONTAB schedule (with seconds) of <c>CleanupStaleEntries</c>, read by the timer trigger as <c>%Cleanup:Schedule%</c>.</summary>
    [Required(ErrorMessage = "Cleanup:Schedule must be an NCRONTAB expression.")]
    [RegularExpression(@"^\S+( \S+){4,5}$", ErrorMessage = "Cleanup:Schedule must be an NCRONTAB expression of 5 or 6 fields.")]
    public string Schedule { get; set; } = "*/15 * * * * *";

    /// <summary>
    /// Sessions the index repair examines per run on each Redis primary; the next run goes on from there, so the
    /// cost of one run stays bounded whatever the number of sessions.
    /// </summary>
    [Range(100, 1_000_000, ErrorMessage = "Cleanup:RepairKeysPerRun must be between 100 and 1000000.")]
    public int RepairKeysPerRun { get; set; } = 10_000;
}
