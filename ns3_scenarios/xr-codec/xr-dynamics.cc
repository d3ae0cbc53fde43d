/*
 * Issue-14 dynamics of the xr-codec scenario (see xr-dynamics.h).
 */
#include "xr-dynamics.h"

#include "xrmarl-flags.h"
#include "xrmarl-json.h"

#include "ns3/channel-list.h"
#include "ns3/double.h"
#include "ns3/inet-socket-address.h"
#include "ns3/ipv4-address.h"
#include "ns3/log.h"
#include "ns3/mobility-helper.h"
#include "ns3/on-off-helper.h"
#include "ns3/packet-sink-helper.h"
#include "ns3/simulator.h"
#include "ns3/spectrum-channel.h"
#include "ns3/string.h"

#include <algorithm>
#include <cmath>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrDynamics");

namespace
{
/// Most background users (MAX_LOAD_USERS on the Python side).
constexpr uint32_t kMaxLoadUsers = 32;
/// RNG streams: load placement 5000 and walks 5001.., load chord walks 5100.., load on/off
/// 5200 + 2 k, XR chord walks 5300 + i, XR blockage 5400 + i (xr-scenario: at most 64 users).
constexpr int64_t kLoadPlaceStream = 5000;
constexpr int64_t kLoadChordStream = 5100;
constexpr int64_t kLoadOnOffStream = 5200;
constexpr int64_t kXrChordStream = 5300;
constexpr int64_t kBlockageStream = 5400;
/// Background users' UDP port on their UE.
constexpr uint16_t kLoadPort = 7000;

Ptr<UniformRandomVariable>
StreamRv(int64_t stream)
{
    Ptr<UniformRandomVariable> rv = CreateObject<UniformRandomVariable>();
    rv->SetStream(stream);
    return rv;
}

/// An exponential time of this mean from a uniform draw.
double
Exponential(Ptr<UniformRandomVariable> rv, double mean)
{
    return -mean * std::log(1.0 - rv->GetValue());
}
} // namespace

// ------------------------------------------------------------------------------ XrDynamicsConfig

void
XrDynamicsConfig::AddTo(CommandLine& cmd)
{
    cmd.AddValue("loadUsers", "Background (non-agent) downlink users sharing the cell, on/off traffic (0: none)", loadUsers);
    cmd.AddValue("loadMbps", "Each background user's downlink rate while on (Mbps)", loadMbps);
    cmd.AddValue("loadOnS", "Background users: mean on period, exponential (s)", loadOnS);
    cmd.AddValue("loadOffS", "Background users: mean off period, exponential (s)", loadOffS);
    cmd.AddValue("mobility", "UE mobility: walk (random walk in the ring) or cross (straight chords "
                 "past the base station, edge to edge, at ueSpeed)", mobility);
    cmd.AddValue("blockageRate", "Blockage onsets per XR user per second, Poisson (0: none)", blockageRate);
    cmd.AddValue("blockageS", "Mean blockage duration, exponential (s)", blockageS);
    cmd.AddValue("blockageDb", "Extra path loss of a blocked XR user (dB)", blockageDb);
}

void
XrDynamicsConfig::Check(const std::string& program) const
{
    if (loadUsers > kMaxLoadUsers)
    {
        XrMarlUsageError(program, "loadUsers must be at most " + std::to_string(kMaxLoadUsers) +
                                      ", got " + std::to_string(loadUsers));
    }
    if (!(loadMbps > 0) || !std::isfinite(loadMbps))
    {
        XrMarlUsageError(program, "loadMbps must be > 0, got " + XrMarlNum(loadMbps));
    }
    if (!(loadOnS > 0) || !(loadOffS > 0) || !std::isfinite(loadOnS) || !std::isfinite(loadOffS))
    {
        XrMarlUsageError(program, "loadOnS and loadOffS must be > 0, got " + XrMarlNum(loadOnS) +
                                      " and " + XrMarlNum(loadOffS));
    }
    if (mobility != "walk" && mobility != "cross")
    {
        XrMarlUsageError(program, "mobility must be walk or cross, got '" + mobility + "'");
    }
    if (!(blockageRate >= 0) || !std::isfinite(blockageRate))
    {
        XrMarlUsageError(program, "blockageRate must be >= 0 (onsets per second), got " +
                                      XrMarlNum(blockageRate));
    }
    if (!(blockageS > 0) || !std::isfinite(blockageS))
    {
        XrMarlUsageError(program, "blockageS must be > 0, got " + XrMarlNum(blockageS));
    }
    if (!(blockageDb >= 0) || !std::isfinite(blockageDb))
    {
        XrMarlUsageError(program, "blockageDb must be >= 0, got " + XrMarlNum(blockageDb));
    }
}

// ------------------------------------------------------------------------------ ChordWalk

ChordWalk::ChordWalk(Ptr<ConstantVelocityMobilityModel> m,
                     double rMin,
                     double rMax,
                     double speed,
                     Ptr<UniformRandomVariable> rv)
    : m_mob(m),
      m_rMin(rMin),
      m_rMax(rMax),
      m_speed(speed),
      m_rv(rv)
{
}

void
ChordWalk::Start()
{
    Leg();
}

void
ChordWalk::Leg()
{
    const Vector p = m_mob->GetPosition();
    const double r = std::max(std::hypot(p.x, p.y), 1e-9);
    // closest approach to the base station, in [rMin, max(rMin, rMax / 4)] (and <= r)
    const double hi = std::min(std::max(m_rMin, m_rMax / 4), r);
    const double lo = std::min(m_rMin, hi);
    const double h = lo + m_rv->GetValue() * (hi - lo);
    const double side = m_rv->GetValue() < 0.5 ? -1.0 : 1.0;
    const double a = std::atan2(p.y, p.x) + M_PI + side * std::asin(std::min(h / r, 1.0));
    const double ux = std::cos(a);
    const double uy = std::sin(a);
    // straight on until the ring edge: |p + t u| = rMax
    const double pu = p.x * ux + p.y * uy;
    const double t = -pu + std::sqrt(std::max(pu * pu - r * r + m_rMax * m_rMax, 0.0));
    m_mob->SetVelocity(Vector(m_speed * ux, m_speed * uy, 0));
    NS_LOG_DEBUG("leg from r=" << r << " m, closest " << h << " m, " << t << " m long");
    Simulator::Schedule(Seconds(std::max(t, 1e-3) / m_speed), &ChordWalk::Leg, Ptr<ChordWalk>(this));
}

// ------------------------------------------------------------------------------ XrBlockage

void
XrBlockage::AddUe(Ptr<MobilityModel> ue, double rate, double meanS, Ptr<UniformRandomVariable> rv)
{
    Ue& u = m_ues[PeekPointer(ue)];
    u.rate = rate;
    u.meanS = meanS;
    u.rv = rv;
    u.blocked = rv->GetValue() < rate * meanS / (1.0 + rate * meanS);
    u.since = Simulator::Now();
    ScheduleNext(PeekPointer(ue));
}

void
XrBlockage::ScheduleNext(const MobilityModel* ue)
{
    Ue& u = m_ues.at(ue);
    const double dt = u.blocked ? Exponential(u.rv, u.meanS) : Exponential(u.rv, 1.0 / u.rate);
    Simulator::Schedule(Seconds(dt), &XrBlockage::Toggle, Ptr<XrBlockage>(this), ue);
}

void
XrBlockage::Toggle(const MobilityModel* ue)
{
    Ue& u = m_ues.at(ue);
    if (u.blocked)
    {
        u.blockedTotal += Simulator::Now() - u.since;
    }
    u.blocked = !u.blocked;
    u.since = Simulator::Now();
    NS_LOG_DEBUG("UE " << ue << (u.blocked ? " blocked" : " clear") << " at " << u.since.As(Time::S));
    ScheduleNext(ue);
}

bool
XrBlockage::IsBlocked(const MobilityModel* ue) const
{
    auto it = m_ues.find(ue);
    return it != m_ues.end() && it->second.blocked;
}

Time
XrBlockage::BlockedTime(const MobilityModel* ue) const
{
    auto it = m_ues.find(ue);
    if (it == m_ues.end())
    {
        return Time(0);
    }
    const Ue& u = it->second;
    return u.blockedTotal + (u.blocked ? Simulator::Now() - u.since : Time(0));
}

// ------------------------------------------------------------------------------ XrBlockageLossModel

NS_OBJECT_ENSURE_REGISTERED(XrBlockageLossModel);

TypeId
XrBlockageLossModel::GetTypeId()
{
    static TypeId tid = TypeId("ns3::XrBlockageLossModel")
                            .SetParent<PropagationLossModel>()
                            .SetGroupName("Propagation")
                            .AddConstructor<XrBlockageLossModel>()
                            .AddAttribute("Loss",
                                          "Extra loss of a blocked UE's links (dB)",
                                          DoubleValue(20.0),
                                          MakeDoubleAccessor(&XrBlockageLossModel::m_lossDb),
                                          MakeDoubleChecker<double>(0.0));
    return tid;
}

XrBlockageLossModel::XrBlockageLossModel() = default;

void
XrBlockageLossModel::SetBlockage(Ptr<XrBlockage> blockage)
{
    m_blockage = blockage;
}

double
XrBlockageLossModel::DoCalcRxPower(double txPowerDbm, Ptr<MobilityModel> a, Ptr<MobilityModel> b) const
{
    if (m_blockage && (m_blockage->IsBlocked(PeekPointer(a)) || m_blockage->IsBlocked(PeekPointer(b))))
    {
        return txPowerDbm - m_lossDb;
    }
    return txPowerDbm;
}

int64_t
XrBlockageLossModel::DoAssignStreams(int64_t stream)
{
    return 0; // the random events live in XrBlockage, on streams of their own
}

// ------------------------------------------------------------------------------ XrDynamics

XrDynamics::XrDynamics(const XrDynamicsConfig& cfg,
                       double rMin,
                       double rMax,
                       double z,
                       double speed,
                       Time turnInterval)
    : m_cfg(cfg),
      m_rMin(rMin),
      m_rMax(rMax),
      m_z(z),
      m_speed(speed),
      m_turn(turnInterval)
{
}

NodeContainer
XrDynamics::CreateLoadNodes()
{
    if (m_cfg.loadUsers == 0)
    {
        return m_load;
    }
    m_load.Create(m_cfg.loadUsers);
    MobilityHelper mob;
    mob.SetMobilityModel("ns3::ConstantVelocityMobilityModel");
    mob.Install(m_load);
    std::vector<double> startDistance;
    m_loadWalks = PlaceInAnnulus(m_load, m_rMin, m_rMax, m_z, WalkSpeed(), m_turn, kLoadPlaceStream,
                                 startDistance);
    if (m_cfg.Cross() && m_speed > 0)
    {
        for (uint32_t k = 0; k < m_load.GetN(); ++k)
        {
            m_chords.push_back(Create<ChordWalk>(m_load.Get(k)->GetObject<ConstantVelocityMobilityModel>(),
                                                 m_rMin, m_rMax, m_speed, StreamRv(kLoadChordStream + k)));
            m_chords.back()->Start();
        }
    }
    NS_LOG_INFO(m_cfg.loadUsers << " background users at " << m_cfg.loadMbps << " Mbps, on "
                                << m_cfg.loadOnS << " s / off " << m_cfg.loadOffS << " s");
    return m_load;
}

double
XrDynamics::WalkSpeed() const
{
    return m_cfg.Cross() ? 0.0 : m_speed;
}

void
XrDynamics::StartMobility(NodeContainer xrUes)
{
    if (!m_cfg.Cross() || !(m_speed > 0))
    {
        return;
    }
    for (uint32_t i = 0; i < xrUes.GetN(); ++i)
    {
        m_chords.push_back(Create<ChordWalk>(xrUes.Get(i)->GetObject<ConstantVelocityMobilityModel>(),
                                             m_rMin, m_rMax, m_speed, StreamRv(kXrChordStream + i)));
        m_chords.back()->Start();
    }
}

void
XrDynamics::InstallLoadTraffic(const XrMarlRan& ran, uint32_t firstLoad, Ptr<Node> server, uint32_t mtu, Time start)
{
    for (uint32_t k = 0; k < m_load.GetN(); ++k)
    {
        const Ipv4Address ue = ran.UeInterfaces().GetAddress(firstLoad + k);
        OnOffHelper onOff("ns3::UdpSocketFactory", InetSocketAddress(ue, kLoadPort));
        onOff.SetConstantRate(DataRate(static_cast<uint64_t>(m_cfg.loadMbps * 1e6)), mtu - 28);
        onOff.SetAttribute("OnTime", StringValue("ns3::ExponentialRandomVariable[Mean=" +
                                                 XrMarlNum(m_cfg.loadOnS) + "]"));
        onOff.SetAttribute("OffTime", StringValue("ns3::ExponentialRandomVariable[Mean=" +
                                                  XrMarlNum(m_cfg.loadOffS) + "]"));
        ApplicationContainer app = onOff.Install(server);
        app.Get(0)->AssignStreams(kLoadOnOffStream + 2 * k);
        app.Start(start);
        PacketSinkHelper sink("ns3::UdpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), kLoadPort));
        sink.Install(m_load.Get(k)).Start(Time(0));
    }
}

void
XrDynamics::InstallBlockage(NodeContainer xrUes)
{
    if (!(m_cfg.blockageRate > 0))
    {
        return;
    }
    m_blockage = Create<XrBlockage>();
    for (uint32_t i = 0; i < xrUes.GetN(); ++i)
    {
        m_blockage->AddUe(xrUes.Get(i)->GetObject<MobilityModel>(), m_cfg.blockageRate, m_cfg.blockageS,
                          StreamRv(kBlockageStream + i));
    }
    // every spectrum channel of the RAN (LTE: downlink and uplink; NR: one per bandwidth part)
    // gets its own loss model in front of its chain, all sharing the blockage state
    uint32_t channels = 0;
    for (uint32_t c = 0; c < ChannelList::GetNChannels(); ++c)
    {
        if (Ptr<SpectrumChannel> ch = DynamicCast<SpectrumChannel>(ChannelList::GetChannel(c)))
        {
            Ptr<XrBlockageLossModel> loss = CreateObject<XrBlockageLossModel>();
            loss->SetAttribute("Loss", DoubleValue(m_cfg.blockageDb));
            loss->SetBlockage(m_blockage);
            ch->AddPropagationLossModel(loss);
            ++channels;
        }
    }
    NS_ABORT_MSG_IF(channels == 0, "XrDynamics: no spectrum channel to add the blockage to");
    NS_LOG_INFO("blockage on " << channels << " spectrum channels: " << m_cfg.blockageRate << "/s, "
                               << m_cfg.blockageS << " s, " << m_cfg.blockageDb << " dB");
}

void
XrDynamics::Announce(XrMarlAgentLoop& loop) const
{
    loop.SetParameter("load_users", std::to_string(m_cfg.loadUsers));
    loop.SetParameter("load_mbps", XrMarlNum(m_cfg.loadMbps));
    loop.SetParameter("load_on_s", XrMarlNum(m_cfg.loadOnS));
    loop.SetParameter("load_off_s", XrMarlNum(m_cfg.loadOffS));
    loop.SetParameter("mobility", m_cfg.mobility);
    loop.SetParameter("blockage_rate_hz", XrMarlNum(m_cfg.blockageRate));
    loop.SetParameter("blockage_s", XrMarlNum(m_cfg.blockageS));
    loop.SetParameter("blockage_db", XrMarlNum(m_cfg.blockageDb));
}

void
XrDynamics::WriteSummary(XrMarlJsonWriter& js, NodeContainer xrUes, const std::vector<std::string>& ids) const
{
    js.Open("dynamics")
        .Field("load_users", m_cfg.loadUsers)
        .Field("mobility", m_cfg.mobility)
        .Field("blockage_rate_hz", m_cfg.blockageRate);
    if (m_blockage)
    {
        js.Open("blocked_s");
        for (uint32_t i = 0; i < xrUes.GetN() && i < ids.size(); ++i)
        {
            const MobilityModel* m = PeekPointer(xrUes.Get(i)->GetObject<MobilityModel>());
            js.Field(ids[i], m_blockage->BlockedTime(m).GetSeconds());
        }
        js.Close();
    }
    js.Close();
}

} // namespace ns3
