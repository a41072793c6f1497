using System.Text.RegularExpressions;

namespace ServerlessWs.Infra.Tests;

/// <summary>The dashboard workbook as deployed.</summary>
public sealed partial class WorkbookTests
{
    [Fact]
    public void TheWorkbookFallsBackToTheResourceItIsListedUnder()
    {
        var workbook = Assert.Single(ArmTemplate.Resources("Microsoft.Insights/workbooks"));
        var data = (string)workbook.Properties["serializedData"]!;
        var source = (string)workbook.Properties["sourceId"]!;

        // Opened by its id or from a pin, the workbook's queries run against its fallback resource; with none they
        // have nothing to run against.
        var fallback = Fallback().Match(data);
        Assert.True(fallback.Success, $"The workbook's serializedData sets no fallbackResourceIds: {data[..Math.Min(data.Length, 200)]}");
        Assert.Equal(source, $"[{fallback.Groups[1].Value}]");
    }

    [GeneratedRegex(@"createObject\('fallbackResourceIds', createArray\(([^()]+\([^()]*\))\)\)")]
    private static partial Regex Fallback();
}
