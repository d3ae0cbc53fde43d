/*
 * MecTally: the event counts of one decision step, summed over every device.
 *
 * The names and their order are the contract with xr_codec_marl (scenarios/mec/raw.py
 * COUNTS = tally.StepTally.COUNTS): the agent server computes every ratio KPI and reward
 * component from them, as it does for the analytic twin. A task is resolved once: completed
 * (on time or late), rejected or dropped.
 */
#ifndef XRMARL_MEC_TALLY_H
#define XRMARL_MEC_TALLY_H

#include <array>
#include <string>
#include <vector>

namespace ns3
{

class MecTally
{
  public:
    enum Count : size_t
    {
        ARRIVED,
        RESOLVED,
        COMPLETED,
        ON_TIME,
        REJECTED,
        DROPPED,
        ENERGY_J,
        ENERGY_TASKS,
        UPDATES,
        UPLOADS,
        OUTAGES,
        RESOLVED_HIGH,
        RESOLVED_LOW,
        COMPLETED_HIGH,
        COMPLETED_LOW,
        RESPONSE_SUM,
        PRIO_SUM,
        PRIO_ON_TIME,
        PEAK_SUM,
        N_COUNTS
    };

    /// The wire names, in Count order.
    static std::vector<std::string> Names()
    {
        return {"arrived",        "resolved",      "completed",     "on_time",       "rejected",
                "dropped",        "energy_j",      "energy_tasks",  "updates",       "uploads",
                "outages",        "resolved_high", "resolved_low",  "completed_high",
                "completed_low",  "response_sum",  "prio_sum",      "prio_on_time",  "peak_sum"};
    }

    explicit MecTally(double highPriority = 0.75)
        : m_high(highPriority)
    {
        Reset();
    }

    void Reset()
    {
        m_step.fill(0.0);
    }

    void Add(Count c, double v = 1.0)
    {
        m_step[c] += v;
        m_total[c] += v;
    }

    /// A task finished at `now` (seconds, like the other times).
    void Complete(double now, double created, double deadline, double priority)
    {
        Resolved(priority);
        const bool hit = now <= deadline + 1e-12;
        const bool high = priority >= m_high;
        Add(COMPLETED);
        Add(ON_TIME, hit ? 1.0 : 0.0);
        Add(PRIO_ON_TIME, hit ? priority : 0.0);
        Add(high ? COMPLETED_HIGH : COMPLETED_LOW);
        Add(RESPONSE_SUM, now - created);
    }

    void Reject(double priority)
    {
        Resolved(priority);
        Add(REJECTED);
    }

    void Drop(double priority)
    {
        Resolved(priority);
        Add(DROPPED);
    }

    /// This step's counts, in Count order.
    const std::array<double, N_COUNTS>& Step() const
    {
        return m_step;
    }

    /// Counts since the start of the run (for the summary).
    double Total(Count c) const
    {
        return m_total[c];
    }

    /// Forget the totals (what happened before the first step does not count).
    void ResetTotals()
    {
        m_total.fill(0.0);
        Reset();
    }

  private:
    void Resolved(double priority)
    {
        const bool high = priority >= m_high;
        Add(RESOLVED);
        Add(high ? RESOLVED_HIGH : RESOLVED_LOW);
        Add(PRIO_SUM, priority);
    }

    double m_high;
    std::array<double, N_COUNTS> m_step{};
    std::array<double, N_COUNTS> m_total{};
};

} // namespace ns3

#endif // XRMARL_MEC_TALLY_H
