/*
 * The XR codec-adaptation scenario (see xr-scenario.h and the comment of xr-codec.cc).
 */
#include "xr-scenario.h"

#include "xrmarl-json.h"

#include "ns3/core-module.h"
#include "ns3/inet-socket-address.h"
#include "ns3/mobility-helper.h"
#include "ns3/mobility-model.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrCodecScenario");

namespace
{
/// Most users one scenario takes (ports 5000.., RNG streams 4000 + 10 i and 101 + i).
constexpr uint32_t kMaxUsers = 64;
} // namespace

const std::vector<std::string>&
XrKpiNames()
{
    static const std::vector<std::string> names = {"delay_ms", "jitter_ms", "pdr",
                                                   "plr", "throughput_mbps", "xqi",
                                                   "buffer_ratio", "codec_rate_mbps",
                                                   "sinr_db"};
    return names;
}

// ------------------------------------------------------------------------------ XrCodecConfig

void
XrCodecConfig::AddTo(CommandLine& cmd)
{
    cmd.AddValue("ringRadius", "Ring radius R (m): UEs live in the disc [minDistance, R]", ringRadius);
    cmd.AddValue("minDistance", "Minimum UE distance from the base station (m)", minDistance);
    cmd.AddValue("nRates", "K_o: codec rates per agent, evenly spaced in [min, max]", nRates);
    cmd.AddValue("actions",
                 "discrete: each agent picks one of nRates codec rates; continuous: any codec "
                 "rate in its [min, max] Mbps (a bounded continuous action dimension, "
                 "'codec_rate'; standalone runs send at max)",
                 actions);
    cmd.AddValue("users",
                 "XR users, one agent each: comma-separated [ID=]TYPE[:MIN:MAX], TYPE AR, VR or "
                 "CG, codec range in Mbps (default: --arMin/--arMax ...); empty: AR,VR,CG",
                 users);
    cmd.AddValue("arMin", "AR codec rate min (Mbps) of AR users without a range", arMin);
    cmd.AddValue("arMax", "AR codec rate max (Mbps) of AR users without a range", arMax);
    cmd.AddValue("vrMin", "VR codec rate min (Mbps) of VR users without a range", vrMin);
    cmd.AddValue("vrMax", "VR codec rate max (Mbps) of VR users without a range", vrMax);
    cmd.AddValue("cgMin", "CG codec rate min (Mbps) of CG users without a range", cgMin);
    cmd.AddValue("cgMax", "CG codec rate max (Mbps) of CG users without a range", cgMax);
    cmd.AddValue("audioMbps", "AR audio flow rate (Mbps)", audioMbps);
    cmd.AddValue("audioPeriodMs", "AR audio packet period (ms)", audioPeriodMs);
    cmd.AddValue("poseBytes", "AR pose/control packet size (bytes)", poseBytes);
    cmd.AddValue("posePeriodMs", "AR pose/control packet period (ms)", posePeriodMs);
    cmd.AddValue("fps", "XR frames per second", fps);
    cmd.AddValue("sizeStdFrac", "Frame size std as a fraction of the mean", sizeStdFrac);
    cmd.AddValue("sizeMinFrac", "Frame size lower truncation (fraction of the mean)", sizeMinFrac);
    cmd.AddValue("sizeMaxFrac", "Frame size upper truncation (fraction of the mean)", sizeMaxFrac);
    cmd.AddValue("jitterStdMs", "Frame arrival jitter std (ms)", jitterStdMs);
    cmd.AddValue("jitterBoundMs", "Frame arrival jitter bound (ms)", jitterBoundMs);
    cmd.AddValue("pacingMs", "Spread a frame's packets over this time (0: one burst)", pacingMs);
    cmd.AddValue("mtu", "IP MTU (bytes); a frame is split into packets of this size", mtu);
    cmd.AddValue("lossDeadlineMs", "A packet not received within this time counts as lost (ms)", lossDeadlineMs);
    cmd.AddValue("ueSpeed", "UE speed (m/s)", ueSpeed);
    cmd.AddValue("turnInterval", "Random walk: new heading every this many seconds", turnInterval);
    cmd.AddValue("ueHeight", "UE height (m)", ueHeight);
    cmd.AddValue("bearerQci", "QCI of the XR bearer (80 = low-latency eMBB, Release 15)", bearerQci);
    dynamics.AddTo(cmd);
}

std::vector<XrUser>
XrCodecConfig::Check(const std::string& program, const XrMarlRanConfig& ran) const
{
    if (!(ringRadius > minDistance) || minDistance < 0)
    {
        XrMarlUsageError(program,
                         "ringRadius must exceed minDistance (>= 0), got " + XrMarlNum(ringRadius) +
                             " and " + XrMarlNum(minDistance));
    }
    if (nRates < 2)
    {
        XrMarlUsageError(program, "nRates must be >= 2");
    }
    if (actions != "discrete" && actions != "continuous")
    {
        XrMarlUsageError(program, "actions must be discrete or continuous, got '" + actions + "'");
    }
    std::vector<XrUser> parsed;
    const std::string bad =
        ParseXrUsers(users.empty() ? "AR,VR,CG" : users,
                     {{"AR", {arMin, arMax}}, {"VR", {vrMin, vrMax}}, {"CG", {cgMin, cgMax}}},
                     parsed);
    if (!bad.empty())
    {
        XrMarlUsageError(program, "--users: " + bad);
    }
    if (parsed.size() > kMaxUsers)
    {
        XrMarlUsageError(program,
                         "--users: at most " + std::to_string(kMaxUsers) + " users, got " +
                             std::to_string(parsed.size()));
    }
    if (!(fps > 0))
    {
        XrMarlUsageError(program, "fps must be > 0");
    }
    if (mtu < 100 || ran.rlcBufferBytes < mtu)
    {
        XrMarlUsageError(program, "mtu must be >= 100 and rlcBufferBytes >= mtu");
    }
    if (!XrMarlIsStandardQci(bearerQci))
    {
        XrMarlUsageError(program,
                         "bearerQci " + std::to_string(bearerQci) + " is not a standard QCI (Release 15)");
    }
    dynamics.Check(program);
    return parsed;
}

// ------------------------------------------------------------------------------ XrCodecScenario

XrCodecScenario::XrCodecScenario(const XrCodecConfig& cfg,
                                 const XrMarlFlags& flags,
                                 const XrMarlRanConfig& ranCfg,
                                 std::vector<XrUser> users)
    : m_cfg(cfg),
      m_flags(flags),
      m_ranCfg(ranCfg),
      m_users(std::move(users))
{
}

std::vector<XrMarlAgent>
XrCodecScenario::Agents() const
{
    std::vector<XrMarlAgent> agents;
    for (const XrUser& u : m_users)
    {
        XrMarlAgent a;
        a.id = u.id;
        a.kind = u.kind;
        a.obsSize = m_users.size() + 2; // eq. 13, computed by the server from the KPIs
        if (Continuous())
        {
            a.continuous.push_back({"codec_rate", u.rateMin, u.rateMax, "Mbps"});
        }
        else
        {
            for (uint32_t k = 0; k < m_cfg.nRates; ++k)
            {
                a.actionValues.push_back(u.RateOf(k, m_cfg.nRates));
            }
        }
        agents.push_back(a);
    }
    return agents;
}

void
XrCodecScenario::Build()
{
    const uint32_t nUe = m_users.size();
    NS_LOG_INFO(nUe << " XR users");
    // nodes and positions: the base station first, then the UEs walking in the annulus
    NodeContainer bsNodes = XrMarlRan::CreateBaseStations(m_ranCfg);
    NodeContainer ueNodes;
    ueNodes.Create(nUe);
    MobilityHelper ueMob;
    ueMob.SetMobilityModel("ns3::ConstantVelocityMobilityModel");
    ueMob.Install(ueNodes);
    std::vector<double> startDistance;
    // issue-14 dynamics (xr-dynamics.h; all off by default, which changes nothing here)
    m_dynamics = std::make_unique<XrDynamics>(m_cfg.dynamics, m_cfg.minDistance, m_cfg.ringRadius,
                                              m_cfg.ueHeight, m_cfg.ueSpeed, Seconds(m_cfg.turnInterval));
    m_walks = PlaceInAnnulus(ueNodes, m_cfg.minDistance, m_cfg.ringRadius, m_cfg.ueHeight,
                             m_dynamics->WalkSpeed(), Seconds(m_cfg.turnInterval), 100, startDistance);
    m_dynamics->StartMobility(ueNodes);
    NodeContainer loadNodes = m_dynamics->CreateLoadNodes(); // UEs nUe.. of the RAN
    m_ueNodes = ueNodes;

    m_ran.emplace(XrMarlRan::Build(m_ranCfg, bsNodes, NodeContainer(ueNodes, loadNodes)));
    // the XR server, behind the core
    Ptr<Node> server = m_ran->AddRemoteHost(
        m_cfg.mtu, MicroSeconds(static_cast<int64_t>(m_ranCfg.coreDelayMs * 1000)));
    m_dynamics->InstallLoadTraffic(*m_ran, nUe, server, m_cfg.mtu, MilliSeconds(100));
    m_dynamics->InstallBlockage(ueNodes);

    m_traces = std::make_unique<XrMarlRlcBufferTraces>(*m_ran);
    for (uint32_t i = 0; i < nUe; ++i)
    {
        XrUser& u = m_users[i];
        u.node = ueNodes.Get(i);
        u.dev = m_ran->UeDevices().Get(i);
        u.startDistance = startDistance[i];
        InstallTraffic(i, server);
        m_traces->Add(u.dev, u.rlc);
    }
    // RLC occupancy at the base station: default + XR bearer per UE
    m_traces->Start(m_flags.WarmUp(), 2 * nUe + m_dynamics->LoadUsers()); // + their default bearers
}

void
XrCodecScenario::InstallTraffic(uint32_t i, Ptr<Node> server)
{
    XrUser& u = m_users[i];
    const uint16_t port = 5000 + i;
    // low-latency dedicated bearer for this UE's XR port
    m_ran->ActivateDedicatedBearer(u.dev, m_cfg.bearerQci,
                                   XrMarlBearerFilter::UePort(XrMarlBearerFilter::DOWNLINK, port));

    u.monitor = CreateObject<XrUeMonitor>();
    u.monitor->SetAttribute("LossDeadline",
                            TimeValue(MicroSeconds(static_cast<int64_t>(m_cfg.lossDeadlineMs * 1000))));
    u.monitor->Listen(u.node, port);
    u.rlc = CreateObject<XrMarlRlcBufferTracker>();
    u.rlc->SetCapacity(m_ranCfg.rlcBufferBytes);
    u.sinr = Create<XrMarlDlSinrMeter>();
    Ptr<XrMarlDlSinrMeter> meter = u.sinr;
    m_ran->TraceDlSinr(u.dev, [meter](double sinr) { meter->Add(sinr); });

    const Address remote = InetSocketAddress(m_ran->UeInterfaces().GetAddress(i), port);
    const uint32_t packetSize = m_cfg.mtu - 28; // IPv4 + UDP headers
    const Time t0 = m_flags.WarmUp();
    auto makeSender = [&](uint32_t flow, double rate, double fps, double sizeStd, double jitter) {
        Ptr<XrSender> s = CreateObject<XrSender>();
        s->SetAttribute("Remote", AddressValue(remote));
        s->SetAttribute("RateMbps", DoubleValue(rate));
        s->SetAttribute("Fps", DoubleValue(fps));
        s->SetAttribute("SizeStdFrac", DoubleValue(sizeStd));
        s->SetAttribute("SizeMinFrac", DoubleValue(m_cfg.sizeMinFrac));
        s->SetAttribute("SizeMaxFrac", DoubleValue(m_cfg.sizeMaxFrac));
        s->SetAttribute("JitterStdMs", DoubleValue(jitter));
        s->SetAttribute("JitterBoundMs", DoubleValue(m_cfg.jitterBoundMs));
        s->SetAttribute("PacingMs", DoubleValue(flow == 0 ? m_cfg.pacingMs : 0.0));
        s->SetAttribute("PacketSize", UintegerValue(packetSize));
        s->SetAttribute("FlowId", UintegerValue(flow));
        s->SetMonitor(u.monitor);
        s->AssignStreams(4000 + 10 * i + 2 * flow);
        server->AddApplication(s);
        s->SetStartTime(t0);
        return s;
    };
    u.video = makeSender(0, u.rateMax, m_cfg.fps, m_cfg.sizeStdFrac, m_cfg.jitterStdMs);
    if (u.type == "AR")
    {
        // audio 0.756 Mbps and pose 100 B, one packet every 4 ms each
        u.side.push_back(makeSender(1, m_cfg.audioMbps, 1000.0 / m_cfg.audioPeriodMs, 0.0, 0.0));
        u.side.push_back(makeSender(2, m_cfg.poseBytes * 8.0 / m_cfg.posePeriodMs / 1000.0,
                                    1000.0 / m_cfg.posePeriodMs, 0.0, 0.0));
    }
    u.monitor->SetFlowCount(1 + u.side.size());
}

void
XrCodecScenario::Attach(XrMarlAgentLoop& loop)
{
    const uint32_t nUe = m_users.size();
    loop.Hello().set_state_size(nUe * 5);
    loop.SetParameter("ran", m_ran->Name());
    loop.SetParameter("ring_m", XrMarlNum(m_cfg.ringRadius));
    loop.SetParameter("min_distance_m", XrMarlNum(m_cfg.minDistance));
    loop.SetParameter("bandwidth_rbs", std::to_string(m_ranCfg.bandwidthRbs));
    loop.SetParameter("bandwidth_mhz", XrMarlNum(m_ranCfg.EffectiveBandwidthMhz()));
    loop.SetParameter("frequency_ghz", XrMarlNum(m_ranCfg.frequencyGhz));
    loop.SetParameter("rlc_buffer_bytes", std::to_string(m_ranCfg.rlcBufferBytes));
    loop.SetParameter("fps", XrMarlNum(m_cfg.fps));
    loop.SetParameter("n_rates", std::to_string(m_cfg.nRates));
    loop.SetParameter("actions", m_cfg.actions);
    std::ostringstream us;
    for (uint32_t i = 0; i < nUe; ++i)
    {
        us << (i ? "," : "") << m_users[i].id << "=" << m_users[i].type << ":"
           << XrMarlNum(m_users[i].rateMin) << ":" << XrMarlNum(m_users[i].rateMax);
    }
    loop.SetParameter("users", us.str());
    loop.SetParameter("loss_deadline_ms", XrMarlNum(m_cfg.lossDeadlineMs));
    loop.SetParameter("enb_antenna_gain_db", XrMarlNum(m_ranCfg.enbAntennaGainDb));
    m_dynamics->Announce(loop);
    loop.SetMeasureCallback([this](uint64_t step) { return Measure(step); });
    if (Continuous())
    {
        loop.SetHybridApplyCallback(
            [this](const std::vector<uint32_t>&, const std::vector<double>& continuous) {
                ApplyContinuous(continuous);
            });
        std::vector<double> top; // standalone (--fixedAction): every user at its max rate
        for (const XrUser& u : m_users)
        {
            top.push_back(u.rateMax);
        }
        loop.SetFixedContinuous(top);
    }
    else
    {
        loop.SetApplyCallback([this](const std::vector<uint32_t>& actions) { Apply(actions); });
    }
}

std::vector<double>
XrCodecScenario::Measure(uint64_t step)
{
    std::vector<double> k;
    k.reserve(m_users.size() * XrKpiNames().size());
    for (XrUser& u : m_users)
    {
        const XrUeMonitor::Window w = u.monitor->CloseWindow(m_flags.Window());
        const double buf = u.rlc->CloseWindow();
        k.insert(k.end(), {w.delayMs, w.jitterMs, w.pdr, w.plr, w.throughputMbps, w.xqi, buf,
                           u.video->GetRateMbps(), u.sinr->CloseWindow()});
    }
    return k;
}

void
XrCodecScenario::Apply(const std::vector<uint32_t>& actions)
{
    for (size_t i = 0; i < m_users.size(); ++i)
    {
        m_users[i].video->SetRateMbps(m_users[i].RateOf(actions[i], m_cfg.nRates));
    }
}

void
XrCodecScenario::ApplyContinuous(const std::vector<double>& continuous)
{
    // The bridge has refused (exit 4, bad action) any Action whose values are not finite or
    // outside the Hello's [min, max]: these are valid rates. A rate is kept when no value came.
    const size_t n = m_users.size();
    const size_t d = n > 0 ? continuous.size() / n : 0;
    for (size_t i = 0; d > 0 && i < n; ++i)
    {
        const double rate = continuous[i * d];
        if (std::isfinite(rate))
        {
            XrUser& u = m_users[i];
            u.video->SetRateMbps(std::min(std::max(rate, u.rateMin), u.rateMax));
        }
    }
}

void
XrCodecScenario::PrintSummary(const XrMarlAgentLoop& loop) const
{
    XrMarlJsonWriter js;
    js.Open().Open("summary").Field("scenario", "xr-codec").Field("ran", m_ran->Name());
    js.Field("ring_m", m_cfg.ringRadius).Field("actions", m_cfg.actions);
    std::vector<std::string> ids;
    for (const XrUser& u : m_users)
    {
        ids.push_back(u.id);
    }
    m_dynamics->WriteSummary(js, m_ueNodes, ids);
    loop.WriteRunFields(js);
    js.Field("rlc_traces", m_traces->Connected()).Field("traced_bearers", m_traces->TracedBearers());
    loop.WriteStatus(js);
    js.Open("mean_kpis");
    for (uint32_t i = 0; i < m_users.size(); ++i)
    {
        const XrUser& u = m_users[i];
        js.Open(u.id);
        loop.WriteMeanKpis(js, i);
        const Vector pos = u.node->GetObject<MobilityModel>()->GetPosition();
        js.Field("start_distance_m", u.startDistance)
            .Field("end_distance_m", std::hypot(pos.x, pos.y))
            .Field("sent", u.monitor->TotalSent())
            .Field("received", u.monitor->TotalReceived())
            .Field("rlc_in_bytes", u.rlc->m_inBytes)
            .Field("rlc_drop_bytes", u.rlc->m_dropBytes)
            .Field("rlc_out_bytes", u.rlc->m_outBytes)
            .Field("rlc_out_pdus", u.rlc->m_outPdus);
        js.Close();
    }
    js.Close().Close().Close();
    std::cout << js.Str() << std::endl;
}

} // namespace ns3
