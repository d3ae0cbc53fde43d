/*
 * The agent side of a scenario's main() (see xrmarl-agent-loop.h).
 */
#include "xrmarl-agent-loop.h"

#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <iostream>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrMarlAgentLoop");

XrMarlAgentLoop::XrMarlAgentLoop(const XrMarlFlags& flags,
                                 const std::string& scenario,
                                 const std::vector<std::string>& kpiNames)
    : m_flags(flags),
      m_scenario(scenario),
      m_kpiNames(kpiNames)
{
    xrmarl::InstallSignalHandlers();
    m_hello.set_scenario(scenario);
    m_hello.set_seed(flags.seed);
    m_hello.set_run(flags.run);
}

void
XrMarlAgentLoop::AddAgent(const XrMarlAgent& agent)
{
    m_agents.push_back(agent);
    auto* a = m_hello.add_agents();
    a->set_id(agent.id);
    a->set_kind(agent.kind);
    a->set_obs_size(agent.obsSize);
    a->set_n_actions(agent.NumActions());
    if (agent.IsHybrid())
    {
        for (const auto& h : agent.heads)
        {
            xrmarl::AddActionHead(*a, h.name, h.n, {}, false, h.labels);
        }
        for (const auto& c : agent.continuous)
        {
            xrmarl::AddContinuousDim(*a, c.name, c.low, c.high, c.unit);
        }
        return;
    }
    for (double v : agent.actionValues)
    {
        a->add_action_values(v);
    }
    for (const auto& label : agent.actionLabels)
    {
        a->add_action_labels(label);
    }
}

void
XrMarlAgentLoop::CheckFixedAction()
{
    if (!m_flags.Standalone())
    {
        return;
    }
    std::vector<uint32_t> nActions;
    for (const auto& a : m_agents)
    {
        nActions.push_back(a.NumActions());
    }
    if (!XrMarlParseFixedAction(m_flags.fixedAction, nActions, m_fixed))
    {
        XrMarlUsageError(m_scenario,
                         "--fixedAction must be max, min, K or K1,...,K" + std::to_string(m_agents.size()) +
                             " (non-negative integers), got '" + m_flags.fixedAction + "'");
    }
}

void
XrMarlAgentLoop::SetParameter(const std::string& key, const std::string& value)
{
    (*m_hello.mutable_parameters())[key] = value;
}

void
XrMarlAgentLoop::SetMeasureCallback(MeasureCallback cb)
{
    m_measure = std::move(cb);
}

void
XrMarlAgentLoop::SetGlobalKpis(const std::vector<std::string>& names, GlobalMeasureCallback cb)
{
    m_globalNames = names;
    m_globalMeasure = std::move(cb);
}

void
XrMarlAgentLoop::SetReportAtStart(bool report)
{
    m_reportAtStart = report;
}

void
XrMarlAgentLoop::SetApplyCallback(ApplyCallback cb)
{
    m_apply = std::move(cb);
}

void
XrMarlAgentLoop::SetHybridApplyCallback(HybridApplyCallback cb)
{
    m_applyHybrid = std::move(cb);
}

void
XrMarlAgentLoop::SetFixedContinuous(const std::vector<double>& values)
{
    m_fixedContinuous = values;
}

XrMarlStepReport
XrMarlAgentLoop::Observe(uint64_t step)
{
    const size_t nAgents = m_agents.size();
    const size_t nKpis = m_kpiNames.size();
    XrMarlStepReport r;
    r.kpis.assign(nAgents * nKpis, 0.0f);
    const std::vector<double> k = m_measure ? m_measure(step) : std::vector<double>(nAgents * nKpis, 0.0);
    NS_ABORT_MSG_UNLESS(k.size() == nAgents * nKpis,
                        "measure callback returned " << k.size() << " values, not " << nAgents * nKpis);
    m_lastStep = step;
    if (m_globalMeasure)
    {
        const std::vector<double> g = m_globalMeasure(step);
        NS_ABORT_MSG_UNLESS(g.size() == m_globalNames.size(),
                            "global measure callback returned " << g.size() << " values, not "
                                                                << m_globalNames.size());
        if (step > 0 || m_reportAtStart)
        {
            r.globalKpis.assign(g.begin(), g.end());
        }
    }
    if (step == 0 && !m_reportAtStart)
    {
        return r; // nothing measured yet: zeros, as the analytic backend at reset
    }
    for (size_t j = 0; j < k.size(); ++j)
    {
        r.kpis[j] = static_cast<float>(k[j]);
        if (step > 0)
        {
            m_sums[j] += k[j];
        }
    }
    if (step == 0)
    {
        return r;
    }
    if (m_flags.printKpis)
    {
        XrMarlJsonWriter js;
        js.Open().Field("window", step).Field("t", Simulator::Now().GetSeconds()).Open("kpis");
        for (size_t i = 0; i < nAgents; ++i)
        {
            js.Open(m_agents[i].id);
            for (size_t j = 0; j < nKpis; ++j)
            {
                js.Field(m_kpiNames[j], k[i * nKpis + j]);
            }
            js.Field("action", m_actions[i]);
            const auto& dims = m_agents[i].continuous;
            const size_t d = m_continuous.size() / nAgents;
            for (size_t j = 0; j < dims.size() && j < d; ++j)
            {
                js.Field(dims[j].name, m_continuous[i * d + j]);
            }
            js.Close();
        }
        js.Close().Close();
        std::cout << js.Str() << std::endl;
    }
    return r;
}

void
XrMarlAgentLoop::Act(uint64_t step,
                     const std::vector<uint32_t>& actions,
                     const std::vector<double>& continuous)
{
    m_actions = actions;
    m_continuous = continuous;
    if (m_applyHybrid)
    {
        m_applyHybrid(actions, continuous);
    }
    else if (m_apply)
    {
        m_apply(actions);
    }
}

bool
XrMarlAgentLoop::Run(Time t0)
{
    m_actions.assign(m_agents.size(), 0);
    m_sums.assign(m_agents.size() * m_kpiNames.size(), 0.0);
    for (const auto& k : m_kpiNames)
    {
        m_hello.add_kpi_names(k);
    }
    for (const auto& k : m_globalNames)
    {
        m_hello.add_global_kpi_names(k);
    }
    m_bridge = CreateObject<XrMarlBridgeClient>();
    m_bridge->SetAttribute("Endpoint", StringValue(m_flags.endpoint));
    m_bridge->SetAttribute("TimeoutMs", UintegerValue(m_flags.timeoutMs));
    m_bridge->SetAttribute("StepInterval", TimeValue(m_flags.Window()));
    m_bridge->SetAttribute("EpisodeLimit", UintegerValue(m_flags.episodeLimit));
    m_bridge->SetAttribute("Identity", StringValue(m_flags.identity));
    m_bridge->SetHello(m_hello);
    m_bridge->SetObserveCallback([this](uint64_t step) { return Observe(step); });
    m_bridge->SetHybridActionCallback(
        [this](uint64_t step, const std::vector<uint32_t>& actions,
               const std::vector<double>& continuous) { Act(step, actions, continuous); });
    if (!m_fixed.empty())
    {
        m_bridge->SetFixedActions(m_fixed, m_fixedContinuous);
    }
    if (!m_bridge->Start(t0))
    {
        return false;
    }
    // hard stop a little after the terminal step (the bridge stops the simulator itself)
    Simulator::Stop(t0 + Seconds(m_flags.stepInterval * m_flags.episodeLimit) + MilliSeconds(1));
    Simulator::Run();
    m_ran = true;
    return true;
}

int
XrMarlAgentLoop::ExitCode() const
{
    if (!m_bridge)
    {
        return xrmarl::EXIT_PROTOCOL;
    }
    return m_bridge->Failed()     ? m_bridge->ExitCode()
           : m_bridge->Finished() ? 0
                                  : static_cast<int>(xrmarl::EXIT_PROTOCOL);
}

std::string
XrMarlAgentLoop::ErrorMessage() const
{
    if (ExitCode() == 0)
    {
        return "";
    }
    return m_bridge && m_bridge->Failed() ? m_bridge->Failure() : "episode did not finish";
}

double
XrMarlAgentLoop::MeanKpi(uint32_t agent, uint32_t k) const
{
    return m_lastStep > 0 ? m_sums[agent * m_kpiNames.size() + k] / m_lastStep : 0.0;
}

void
XrMarlAgentLoop::WriteRunFields(XrMarlJsonWriter& js) const
{
    const double wall = m_flags.WallSeconds();
    const double simS = Simulator::Now().GetSeconds();
    js.Field("seed", m_flags.seed)
        .Field("run", m_flags.run)
        .Field("windows", m_lastStep)
        .Field("sim_s", simS)
        .Field("wall_s", wall)
        .Field("sim_s_per_wall_s", wall > 0 ? simS / wall : 0.0)
        .Field("standalone", m_flags.Standalone());
}

void
XrMarlAgentLoop::WriteStatus(XrMarlJsonWriter& js) const
{
    const int code = ExitCode();
    js.Field("status", code == 0 ? "ok" : "error");
    if (code != 0)
    {
        js.Field("error", ErrorMessage());
    }
}

void
XrMarlAgentLoop::WriteMeanKpis(XrMarlJsonWriter& js, uint32_t agent) const
{
    for (uint32_t j = 0; j < m_kpiNames.size(); ++j)
    {
        js.Field(m_kpiNames[j], MeanKpi(agent, j));
    }
}

int
XrMarlAgentLoop::Finish()
{
    const int code = ExitCode();
    if (code != 0)
    {
        std::cerr << m_scenario << ": " << ErrorMessage() << std::endl;
    }
    if (m_bridge)
    {
        m_bridge->Dispose();
    }
    Simulator::Destroy();
    return code;
}

} // namespace ns3
