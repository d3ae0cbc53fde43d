#include "mec-scenario.h"

#include "xrmarl-json.h"

#include "ns3/channel-condition-model.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/mobility-module.h"
#include "ns3/three-gpp-propagation-loss-model.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <sstream>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("MecOffloadScenario");

namespace
{

/// Comma-separated numbers; false when the text is not such a list.
bool
ParseList(const std::string& text, std::vector<double>& out)
{
    out.clear();
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ','))
    {
        try
        {
            size_t used = 0;
            out.push_back(std::stod(item, &used));
            if (used != item.size())
            {
                return false;
            }
        }
        catch (const std::exception&)
        {
            return false;
        }
    }
    return !out.empty();
}

std::string
Join(const std::vector<double>& v)
{
    std::ostringstream os;
    for (size_t i = 0; i < v.size(); ++i)
    {
        os << (i ? "," : "") << v[i];
    }
    return os.str();
}

} // namespace

// ------------------------------------------------------------------------------ config

void
MecOffloadConfig::AddTo(CommandLine& cmd)
{
    MecDeviceConfig& d = device;
    cmd.AddValue("devices", "N devices (agents), each a UE", devices);
    cmd.AddValue("servers", "K edge servers behind the core", servers);
    cmd.AddValue("cells", "base stations, on a line isd apart", cells);
    cmd.AddValue("isd", "distance between base stations (m)", isd);
    cmd.AddValue("cellRadius", "devices lie within this of their base station (m)", cellRadius);
    cmd.AddValue("minDistance", "and at least this far from it (m)", minDistance);
    cmd.AddValue("speed", "walking speed of the devices (m/s)", speed);
    cmd.AddValue("serverLinkMbps", "rate of each server's link to the PGW/UPF (Mb/s)", serverLinkMbps);
    cmd.AddValue("serverDelayMs", "one-way delay of server 0's link (ms)", serverDelayMs);
    cmd.AddValue("serverDelayStepMs", "extra delay per server index: server k is farther (ms)",
                 serverDelayStepMs);
    cmd.AddValue("cloud", "the last server is a remote cloud (cloudDelayMs, cloudCapacityGhz)", cloud);
    cmd.AddValue("cloudDelayMs", "one-way delay to the cloud server (ms)", cloudDelayMs);
    cmd.AddValue("cloudCapacityGhz", "cloud server capacity (G cycles/s)", cloudCapacityGhz);
    cmd.AddValue("serverGhzMin", "server capacity range, G cycles/s (heterogeneous: drawn)", serverGhzMin);
    cmd.AddValue("serverGhzMax", "upper end of the capacity range", serverGhzMax);
    cmd.AddValue("serverMemMin", "server memory range, GB (heterogeneous: drawn)", serverMemMin);
    cmd.AddValue("serverMemMax", "upper end of the memory range", serverMemMax);
    cmd.AddValue("serverSlots", "tasks a server holds (more are refused)", serverSlots);
    cmd.AddValue("queue", "server compute queues: fifo or ps", queue);
    cmd.AddValue("variant", "stable, load-peaks, failures or heterogeneous", d.variant);
    cmd.AddValue("mtbf", "mean time between server failures (s), failures variant", mtbf);
    cmd.AddValue("mttr", "mean time to repair (s)", mttr);
    cmd.AddValue("killServer", "fail this server for good at killAt (-1: none)", killServer);
    cmd.AddValue("killAt", "seconds after step 0 at which killServer fails", killAt);
    cmd.AddValue("arrivalRate", "Poisson task arrivals per device per second", d.arrivalRate);
    cmd.AddValue("bitsMin", "task data size range (bits)", d.bits[0]);
    cmd.AddValue("bitsMax", "upper end of the data size range", d.bits[1]);
    cmd.AddValue("cyclesPerBitMin", "task work range (cycles per bit)", d.cyclesPerBit[0]);
    cmd.AddValue("cyclesPerBitMax", "upper end of the work range", d.cyclesPerBit[1]);
    cmd.AddValue("deadlineMin", "task deadline range (s after creation)", d.deadline[0]);
    cmd.AddValue("deadlineMax", "upper end of the deadline range", d.deadline[1]);
    cmd.AddValue("priorityMin", "task priority range", d.priority[0]);
    cmd.AddValue("priorityMax", "upper end of the priority range", d.priority[1]);
    cmd.AddValue("memoryMin", "task memory range at a server (GB)", d.memoryGb[0]);
    cmd.AddValue("memoryMax", "upper end of the memory range", d.memoryGb[1]);
    cmd.AddValue("highPriority", "tasks at or above count as high priority", highPriority);
    cmd.AddValue("agentBuffer", "tasks waiting for a decision per device (more are rejected)",
                 d.agentBuffer);
    cmd.AddValue("prioritisation", "which waiting task is decided first: none, deadline, "
                 "resource, sla, combined", d.prioritisation);
    cmd.AddValue("priorityWeightA", "combined score: urgency weight", d.priorityWeights[0]);
    cmd.AddValue("priorityWeightB", "combined score: size weight", d.priorityWeights[1]);
    cmd.AddValue("priorityWeightG", "combined score: service-class weight", d.priorityWeights[2]);
    cmd.AddValue("dropLate", "drop a task at its deadline instead of finishing it late", d.dropLate);
    cmd.AddValue("fLocalHz", "device CPU speed (cycles/s)", d.fLocalHz);
    cmd.AddValue("kappa", "device CPU energy coefficient (J per cycle per Hz^2)", d.kappa);
    cmd.AddValue("localSlots", "tasks queued at a device's CPU", d.localSlots);
    cmd.AddValue("txPowers", "transmit power levels of the actions (dBm, comma-separated)", txPowers);
    cmd.AddValue("fractions", "offloaded fractions of the actions (comma-separated, in (0, 1])",
                 fractions);
    cmd.AddValue("actions", "discrete (target x fraction x power levels) or hybrid (target "
                 "head + continuous fraction in [0, 1] and power in the txPowers' range, dBm)",
                 actions);
    cmd.AddValue("fixedContinuous", "standalone hybrid runs: alpha,powerDbm for every device, "
                 "or one pair per device (comma-separated)", fixedContinuous);
    cmd.AddValue("outageRateBps", "an upload slower than this is an outage (bit/s)", d.outageRateBps);
    cmd.AddValue("packetBytes", "UDP payload per upload packet, header included", d.packetBytes);
    cmd.AddValue("resultBytes", "result size sent back per task (bytes)", d.resultBytes);
    cmd.AddValue("taskTimeout", "s after its deadline a task without result is dropped", d.taskTimeout);
    cmd.AddValue("peakMultiplier", "load-peaks: arrival-rate multiplier in a peak", d.peakMultiplier);
    cmd.AddValue("peakPeriod", "load-peaks: a peak opens every this many seconds", d.peakPeriod);
    cmd.AddValue("peakDuration", "load-peaks: and lasts this long (s)", d.peakDuration);
}

void
MecOffloadConfig::Check(const std::string& program, bool ranIsNr)
{
    auto fail = [&program](const std::string& msg) { XrMarlUsageError(program, msg); };
    MecDeviceConfig& d = device;
    if (devices < 1 || servers < 1 || cells < 1)
    {
        fail("--devices, --servers and --cells must be >= 1");
    }
    if (servers > 29)
    {
        fail("--servers must be <= 29 (the report carries 8 values per server), got " +
             std::to_string(servers));
    }
    if (queue != "fifo" && queue != "ps")
    {
        fail("--queue must be fifo or ps, got '" + queue + "'");
    }
    if (d.variant != "stable" && d.variant != "load-peaks" && d.variant != "failures" &&
        d.variant != "heterogeneous")
    {
        fail("--variant must be stable, load-peaks, failures or heterogeneous, got '" + d.variant + "'");
    }
    const std::string& p = d.prioritisation;
    if (p != "none" && p != "deadline" && p != "resource" && p != "sla" && p != "combined")
    {
        fail("--prioritisation must be none, deadline, resource, sla or combined, got '" + p + "'");
    }
    if (!ParseList(txPowers, d.txPowersDbm))
    {
        fail("--txPowers must be comma-separated numbers (dBm), got '" + txPowers + "'");
    }
    if (!ParseList(fractions, d.fractions))
    {
        fail("--fractions must be comma-separated numbers, got '" + fractions + "'");
    }
    if (actions != "discrete" && actions != "hybrid")
    {
        fail("--actions must be discrete or hybrid, got '" + actions + "'");
    }
    fixedContinuousValues.clear();
    if (!fixedContinuous.empty())
    {
        std::vector<double> v;
        if (!Hybrid())
        {
            fail("--fixedContinuous applies to --actions=hybrid only");
        }
        if (!ParseList(fixedContinuous, v) || (v.size() != 2 && v.size() != 2 * devices))
        {
            fail("--fixedContinuous must be alpha,powerDbm or " + std::to_string(2 * devices) +
                 " numbers (a pair per device), got '" + fixedContinuous + "'");
        }
        for (uint32_t i = 0; i < devices; ++i)
        {
            const size_t at = v.size() == 2 ? 0 : 2 * i;
            fixedContinuousValues.push_back(v[at]);
            fixedContinuousValues.push_back(v[at + 1]);
        }
    }
    for (double a : d.fractions)
    {
        if (!(a > 0 && a <= 1))
        {
            fail("--fractions must lie in (0, 1], got '" + fractions + "'");
        }
    }
    auto range = [&fail](const char* name, const std::array<double, 2>& r) {
        if (!(r[0] > 0 && r[0] <= r[1] && std::isfinite(r[1])))
        {
            fail(std::string("--") + name + "Min/Max must satisfy 0 < min <= max");
        }
    };
    range("bits", d.bits);
    range("cyclesPerBit", d.cyclesPerBit);
    range("deadline", d.deadline);
    range("priority", d.priority);
    range("memory", d.memoryGb);
    if (!(serverGhzMin > 0 && serverGhzMin <= serverGhzMax) ||
        !(serverMemMin > 0 && serverMemMin <= serverMemMax))
    {
        fail("--serverGhzMin/Max and --serverMemMin/Max must satisfy 0 < min <= max");
    }
    for (auto [name, v] : {std::pair{"arrivalRate", d.arrivalRate}, {"speed", speed},
                           {"mttr", mttr}, {"serverDelayMs", serverDelayMs},
                           {"serverDelayStepMs", serverDelayStepMs}, {"minDistance", minDistance},
                           {"taskTimeout", d.taskTimeout}, {"outageRateBps", d.outageRateBps}})
    {
        if (!(v >= 0 && std::isfinite(v)))
        {
            fail(std::string("--") + name + " must be >= 0");
        }
    }
    for (auto [name, v] : {std::pair{"fLocalHz", d.fLocalHz}, {"kappa", d.kappa},
                           {"mtbf", mtbf}, {"serverLinkMbps", serverLinkMbps},
                           {"cellRadius", cellRadius}, {"isd", isd},
                           {"cloudCapacityGhz", cloudCapacityGhz}, {"peakPeriod", d.peakPeriod}})
    {
        if (!(v > 0 && std::isfinite(v)))
        {
            fail(std::string("--") + name + " must be > 0");
        }
    }
    if (minDistance >= cellRadius)
    {
        fail("--minDistance must be below --cellRadius");
    }
    if (d.peakMultiplier < 1)
    {
        fail("--peakMultiplier must be >= 1");
    }
    if (d.agentBuffer < 1 || d.localSlots < 1)
    {
        fail("--agentBuffer and --localSlots must be >= 1");
    }
    if (d.packetBytes < 128 || d.packetBytes > 1472)
    {
        fail("--packetBytes must be in [128, 1472]");
    }
    if (ranIsNr && (devices + cells - 1) / cells > kMaxNrDevicesPerCell)
    {
        fail("--ran=nr carries uploads for at most " + std::to_string(kMaxNrDevicesPerCell) +
             " devices per cell here (5G-LENA v4.0: with 60 none of the uploads completes); "
             "use more --cells or --ran=lte");
    }
    if (killServer >= static_cast<int32_t>(servers))
    {
        fail("--killServer must name a server (< --servers) or be -1");
    }
}

std::vector<std::string>
MecAgentFields()
{
    return {"decisions", "offloads", "waiting", "has", "bits", "cycles", "priority",
            "memory_gb", "slack_s", "local_wait_s", "uplink_wait_s", "local_full", "aoi_s", "gain"};
}

std::vector<std::string>
MecGlobalFields(uint32_t servers)
{
    std::vector<std::string> out;
    for (uint32_t k = 0; k < servers; ++k)
    {
        for (const char* f : {"backlog_s", "speed_hz", "up", "mem_used_gb", "mem_cap_gb",
                              "free_slots", "busy", "uploads_active"})
        {
            out.push_back("s" + std::to_string(k) + "_" + f);
        }
    }
    for (const auto& n : MecTally::Names())
    {
        out.push_back(n);
    }
    return out;
}

// ------------------------------------------------------------------------------ scenario

MecOffloadScenario::MecOffloadScenario(const MecOffloadConfig& cfg,
                                       const XrMarlFlags& flags,
                                       const XrMarlRanConfig& ran)
    : m_cfg(cfg),
      m_flags(flags),
      m_ranCfg(ran),
      m_tally(cfg.highPriority)
{
}

std::vector<XrMarlAgent>
MecOffloadScenario::Agents() const
{
    const uint32_t k = m_cfg.servers;
    const uint32_t nActions =
        1 + k * m_cfg.device.fractions.size() * m_cfg.device.txPowersDbm.size();
    const auto& powers = m_cfg.device.txPowersDbm;
    XrMarlActionHead target{"target", k + 1, {"local"}};
    for (uint32_t s = 0; s < k; ++s)
    {
        target.labels.push_back("s" + std::to_string(s));
    }
    std::vector<XrMarlAgent> out;
    for (uint32_t i = 0; i < m_cfg.devices; ++i)
    {
        XrMarlAgent a;
        a.id = "dev" + std::to_string(i);
        a.kind = "device";
        a.obsSize = 8 + 3 * k;
        if (m_cfg.Hybrid()) // actions.py hybrid_space
        {
            a.heads = {target};
            a.continuous = {{"alpha", 0.0, 1.0, ""},
                            {"power_dbm", *std::min_element(powers.begin(), powers.end()),
                             *std::max_element(powers.begin(), powers.end()), "dBm"}};
        }
        else
        {
            a.nActions = nActions;
        }
        out.push_back(a);
    }
    return out;
}

void
MecOffloadScenario::Build()
{
    const MecOffloadConfig& c = m_cfg;
    // base stations on a line, devices around theirs (UMa needs UEs at 1.5 m or higher)
    m_bs = XrMarlRan::CreateBaseStations(m_ranCfg, c.cells);
    for (uint32_t b = 0; b < c.cells; ++b)
    {
        m_bs.Get(b)->GetObject<MobilityModel>()->SetPosition(Vector(b * c.isd, 0, m_ranCfg.enbHeight));
    }
    m_ues.Create(c.devices);
    Ptr<UniformRandomVariable> place = CreateObject<UniformRandomVariable>();
    place->SetStream(5000);
    for (uint32_t i = 0; i < c.devices; ++i)
    {
        const double cx = (i % c.cells) * c.isd;
        const double r2min = c.minDistance * c.minDistance;
        const double r = std::sqrt(place->GetValue(r2min, c.cellRadius * c.cellRadius));
        const double phi = place->GetValue(0, 2 * M_PI);
        MobilityHelper mob;
        mob.SetMobilityModel("ns3::RandomWalk2dMobilityModel",
                             "Bounds", RectangleValue(Rectangle(cx - c.cellRadius, cx + c.cellRadius,
                                                                -c.cellRadius, c.cellRadius)),
                             "Speed", StringValue("ns3::ConstantRandomVariable[Constant=" +
                                                  std::to_string(std::max(c.speed, 1e-6)) + "]"),
                             "Distance", DoubleValue(10.0), "Mode", StringValue("Distance"));
        Ptr<ListPositionAllocator> at = CreateObject<ListPositionAllocator>();
        at->Add(Vector(cx + r * std::cos(phi), r * std::sin(phi), 1.5));
        mob.SetPositionAllocator(at);
        mob.Install(m_ues.Get(i));
    }
    MobilityHelper().AssignStreams(m_ues, 4000);

    m_ran.push_back(XrMarlRan::Build(m_ranCfg, m_bs, m_ues));
    const XrMarlRan& ran = m_ran.front();

    // the servers, behind the core at growing distance
    Ptr<UniformRandomVariable> draw = CreateObject<UniformRandomVariable>();
    draw->SetStream(5001);
    const bool hetero = c.device.variant == "heterogeneous";
    for (uint32_t k = 0; k < c.servers; ++k)
    {
        const bool isCloud = c.cloud && k + 1 == c.servers;
        const double delayMs = isCloud ? c.cloudDelayMs : c.serverDelayMs + k * c.serverDelayStepMs;
        const Ipv4Address net(static_cast<uint32_t>(11 + k) << 24);
        Ptr<Node> host = ran.AddRemoteHost(1500, MilliSeconds(1) * delayMs, net, Ipv4Mask("255.0.0.0"),
                                           DataRate(static_cast<uint64_t>(c.serverLinkMbps * 1e6)));
        double ghz = hetero ? draw->GetValue(c.serverGhzMin, c.serverGhzMax)
                            : 0.5 * (c.serverGhzMin + c.serverGhzMax);
        double mem = hetero ? draw->GetValue(c.serverMemMin, c.serverMemMax)
                            : 0.5 * (c.serverMemMin + c.serverMemMax);
        if (isCloud)
        {
            ghz = c.cloudCapacityGhz;
            mem = 0; // unlimited
        }
        Ptr<MecServer> server = CreateObject<MecServer>();
        server->SetAttribute("CapacityHz", DoubleValue(ghz * 1e9));
        server->SetAttribute("Discipline", StringValue(c.queue));
        server->SetAttribute("Slots", UintegerValue(isCloud ? 0 : c.serverSlots));
        server->SetAttribute("MemoryGb", DoubleValue(mem));
        host->AddApplication(server);
        server->SetStartTime(Seconds(0));
        m_servers.push_back(server);
        const Ipv4Address addr = host->GetObject<Ipv4>()->GetAddress(1, 0).GetLocal();
        m_shared.servers.emplace_back(addr, 9000);
    }
    m_shared.uploadsActive.assign(c.servers, 0);
    m_shared.tally = &m_tally;
    m_shared.start = m_flags.WarmUp();
    m_lastBusy.assign(c.servers, 0.0);

    // the devices: tasks from one step before step 0, as the twin's reset
    const Time first = m_flags.WarmUp() - m_flags.Window();
    for (uint32_t i = 0; i < c.devices; ++i)
    {
        Ptr<MecDevice> dev = CreateObject<MecDevice>();
        Ptr<NetDevice> ueDev = ran.UeDevices().Get(i);
        dev->Setup(i, c.device, &m_shared,
                   [this, ueDev](double dbm) { m_ran.front().SetUeTxPower(ueDev, dbm); });
        dev->AssignStreams(6000 + 4 * i);
        m_ues.Get(i)->AddApplication(dev);
        dev->SetStartTime(std::max(first, Seconds(0)));
        m_devices.push_back(dev);
    }

    // the channel quality the devices report: UMa NLoS path gain to their base station
    auto loss = CreateObject<ThreeGppUmaPropagationLossModel>();
    loss->SetAttribute("Frequency", DoubleValue(m_ranCfg.frequencyGhz * 1e9));
    loss->SetAttribute("ShadowingEnabled", BooleanValue(false));
    loss->SetChannelConditionModel(CreateObject<NeverLosChannelConditionModel>());
    m_loss = loss;

    // failures: servers alternate up/down (exponential MTBF/MTTR); a killed one stays down
    m_failRng = CreateObject<ExponentialRandomVariable>();
    m_failRng->SetStream(5002);
    if (c.device.variant == "failures")
    {
        for (uint32_t k = 0; k < c.servers; ++k)
        {
            ScheduleFailure(k);
        }
    }
    if (c.killServer >= 0)
    {
        Simulator::Schedule(m_flags.WarmUp() + Seconds(c.killAt), [this]() {
            NS_LOG_INFO("server " << m_cfg.killServer << " killed");
            FailServer(m_cfg.killServer);
        });
    }
}

void
MecOffloadScenario::ScheduleFailure(uint32_t k)
{
    const double up = m_failRng->GetValue(m_cfg.mtbf, 0);
    Simulator::Schedule(Seconds(up), [this, k]() {
        if (!m_servers[k]->IsUp())
        {
            return; // killed meanwhile
        }
        FailServer(k);
        const double down = m_cfg.mttr > 0 ? m_failRng->GetValue(m_cfg.mttr, 0) : 0.0;
        Simulator::Schedule(Seconds(down), [this, k]() {
            if (static_cast<int32_t>(k) == m_cfg.killServer && Simulator::Now() >= m_flags.WarmUp() + Seconds(m_cfg.killAt))
            {
                return;
            }
            m_servers[k]->Repair();
            ScheduleFailure(k);
        });
    });
}

void
MecOffloadScenario::FailServer(uint32_t k)
{
    m_servers[k]->Fail();
    ++m_failures;
    for (auto& d : m_devices)
    {
        d->ServerFailed(k);
    }
}

double
MecOffloadScenario::Gain(uint32_t device) const
{
    Ptr<MobilityModel> ue = m_ues.Get(device)->GetObject<MobilityModel>();
    double best = std::numeric_limits<double>::infinity();
    Ptr<MobilityModel> bs;
    for (uint32_t b = 0; b < m_bs.GetN(); ++b)
    {
        Ptr<MobilityModel> m = m_bs.Get(b)->GetObject<MobilityModel>();
        const double d = ue->GetDistanceFrom(m);
        if (d < best)
        {
            best = d;
            bs = m;
        }
    }
    return std::pow(10.0, m_loss->CalcRxPower(0.0, ue, bs) / 10.0);
}

void
MecOffloadScenario::Attach(XrMarlAgentLoop& loop)
{
    const MecOffloadConfig& c = m_cfg;
    loop.Hello().set_state_size(4 * c.servers + 4 * c.devices);
    loop.SetParameter("ran", m_ranCfg.ran);
    loop.SetParameter("devices", std::to_string(c.devices));
    loop.SetParameter("servers", std::to_string(c.servers));
    loop.SetParameter("cells", std::to_string(c.cells));
    loop.SetParameter("variant", c.device.variant);
    loop.SetParameter("queue", c.queue);
    loop.SetParameter("tx_powers_dbm", Join(c.device.txPowersDbm));
    loop.SetParameter("offload_fractions", Join(c.device.fractions));
    loop.SetParameter("actions", c.actions);
    loop.SetReportAtStart(true);
    loop.SetMeasureCallback([this](uint64_t step) { return Measure(step); });
    loop.SetGlobalKpis(MecGlobalFields(c.servers), [this](uint64_t step) { return MeasureGlobal(step); });
    if (c.Hybrid())
    {
        loop.SetHybridApplyCallback(
            [this](const std::vector<uint32_t>& a, const std::vector<double>& v) {
                ApplyHybrid(a, v);
            });
        loop.SetFixedContinuous(c.fixedContinuousValues);
    }
    else
    {
        loop.SetApplyCallback([this](const std::vector<uint32_t>& a) { Apply(a); });
    }
}

std::vector<double>
MecOffloadScenario::Measure(uint64_t step)
{
    if (step == 0)
    {
        m_tally.ResetTotals(); // what happened before step 0 does not count, as the twin's
        for (auto& d : m_devices)
        {
            d->StartAoi(Simulator::Now());
        }
    }
    std::vector<double> out;
    out.reserve(m_devices.size() * 14);
    for (uint32_t i = 0; i < m_devices.size(); ++i)
    {
        Ptr<MecDevice> d = m_devices[i];
        d->ExpireWaiting();
        const auto [decisions, offloads] = d->TakeDecisionCounts();
        const MecDevice::View v = d->Observe();
        for (double x : {static_cast<double>(decisions), static_cast<double>(offloads),
                         static_cast<double>(d->Waiting()), v.has ? 1.0 : 0.0, v.bits, v.cycles,
                         v.priority, v.memoryGb, v.slack, v.localWait, v.uplinkWait,
                         v.localFull ? 1.0 : 0.0, v.aoi, Gain(i)})
        {
            out.push_back(x);
        }
    }
    return out;
}

std::vector<double>
MecOffloadScenario::MeasureGlobal(uint64_t step)
{
    std::vector<double> out;
    const double dt = m_flags.stepInterval;
    for (uint32_t k = 0; k < m_servers.size(); ++k)
    {
        Ptr<MecServer> s = m_servers[k];
        const double busy = s->GetBusySeconds();
        const double cap = s->GetMemoryGb();
        const uint32_t slots = s->GetSlots();
        const double free = slots == 0 ? 1e6 : static_cast<double>(slots - std::min(slots, s->GetBacklog()));
        for (double x : {s->GetBacklogCycles() / s->GetCapacity(), s->GetCapacity(), s->IsUp() ? 1.0 : 0.0,
                         s->GetMemoryUsedGb(), std::isfinite(cap) ? cap : 1e6, free,
                         step == 0 ? 0.0 : std::min(1.0, (busy - m_lastBusy[k]) / dt),
                         static_cast<double>(m_shared.uploadsActive[k])})
        {
            out.push_back(x);
        }
        m_lastBusy[k] = busy;
    }
    for (double x : m_tally.Step())
    {
        out.push_back(step == 0 ? 0.0 : x);
    }
    m_tally.Reset();
    return out;
}

void
MecOffloadScenario::Apply(const std::vector<uint32_t>& actions)
{
    for (uint32_t i = 0; i < m_devices.size(); ++i)
    {
        m_devices[i]->Decide(actions[i]);
    }
}

void
MecOffloadScenario::ApplyHybrid(const std::vector<uint32_t>& heads, const std::vector<double>& values)
{
    // the bridge checked them against the Hello: one head per device, 2 values each, finite
    // and within their bounds
    NS_ABORT_MSG_UNLESS(heads.size() == m_devices.size() && values.size() == 2 * m_devices.size(),
                        "hybrid action of " << heads.size() << " heads and " << values.size()
                                            << " values for " << m_devices.size() << " devices");
    for (uint32_t i = 0; i < m_devices.size(); ++i)
    {
        m_devices[i]->DecideHybrid(heads[i], values[2 * i], values[2 * i + 1]);
    }
}

void
MecOffloadScenario::PrintSummary(const XrMarlAgentLoop& loop) const
{
    const MecTally& t = m_tally;
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    uint64_t sent = 0;
    for (const auto& d : m_devices)
    {
        sent += d->BytesSent();
    }
    uint64_t admitted = 0;
    for (const auto& s : m_servers)
    {
        admitted += s->GetAdmitted();
    }
    XrMarlJsonWriter js;
    js.Open().Open("summary");
    js.Field("scenario", "mec-offload").Field("ran", m_ranCfg.ran);
    loop.WriteRunFields(js);
    js.Field("devices", m_cfg.devices).Field("servers", m_cfg.servers).Field("variant", m_cfg.device.variant);
    js.Field("actions", m_cfg.actions);
    js.Field("arrived", t.Total(MecTally::ARRIVED))
        .Field("resolved", t.Total(MecTally::RESOLVED))
        .Field("completed", t.Total(MecTally::COMPLETED))
        .Field("rejected", t.Total(MecTally::REJECTED))
        .Field("dropped", t.Total(MecTally::DROPPED))
        .Field("completion_pct", 100.0 * ratio(t.Total(MecTally::COMPLETED), t.Total(MecTally::RESOLVED)))
        .Field("deadline_pct", 100.0 * ratio(t.Total(MecTally::ON_TIME), t.Total(MecTally::RESOLVED)))
        .Field("response_time_s", ratio(t.Total(MecTally::RESPONSE_SUM), t.Total(MecTally::COMPLETED)))
        .Field("energy_per_task_j", ratio(t.Total(MecTally::ENERGY_J), t.Total(MecTally::ENERGY_TASKS)))
        .Field("uploads", t.Total(MecTally::UPLOADS))
        .Field("uplink_bytes", sent)
        .Field("server_admitted", admitted)
        .Field("server_failures", m_failures);
    loop.WriteStatus(js);
    js.Close().Close();
    std::cout << js.Str() << std::endl;
}

} // namespace ns3
