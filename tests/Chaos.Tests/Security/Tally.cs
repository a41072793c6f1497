using ServerlessWs.Chaos.Tests.Reporting;

namespace ServerlessWs.Chaos.Tests.Security;

/// <summary>Counts inputs and the ones that got their documented answer, and remembers the first few that did not.</summary>
public sealed class Tally
{
    private readonly List<string> _wrong = [];

    public long Tried { get; private set; }

    public long Documented { get; private set; }

    public IReadOnlyList<string> Wrong => _wrong;

    public void Check<T>(string input, T expected, T actual)
    {
        Tried++;
        if (EqualityComparer<T>.Default.Equals(expected, actual))
        {
            Documented++;
        }
        else if (_wrong.Count < 20)
        {
            _wrong.Add($"{input}: expected {expected}, got {actual}");
        }
    }

    /// <summary>Records the scenario's figures: every input that did not get its documented answer is a violation.</summary>
    public void Record(string scenario, string notes) =>
        ReliabilityReport.Record(new ScenarioFigures(scenario)
        {
            InputsTried = Tried,
            DocumentedAnswers = Documented,
            Violations = (int)(Tried - Documented),
            Notes = notes,
        });

    /// <summary>Fails with every wrong answer listed when any input did not get its documented answer.</summary>
    public void AssertAllDocumented()
    {
        Assert.True(Tried > 0, "no input was tried");
        Assert.True(Documented == Tried, $"{Tried - Documented} of {Tried} inputs got another answer:\n{string.Join("\n", _wrong)}");
    }
}
