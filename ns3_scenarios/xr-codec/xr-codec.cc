/*
 * xr-codec: the XR codec-adaptation scenario of xr-codec-marl (seed 002, Table III).
 *
 * One base station and N XR users (--users; default three: AR with video + audio 0.756 Mbps /
 * 4 ms + pose 100 B / 4 ms, VR, CG), placed uniformly (by area) in the disc
 * [minDistance, ringRadius] around the base station and walking at 3 m/s inside it. Downlink
 * XR traffic per TR 38.838 from a remote host through the EPC on a low-latency bearer (QCI 80,
 * Release 15). Every window (stepInterval, 0.5 s) each UE's KPIs are measured from its
 * received packets and sent to the agent server, whose joint action sets the N video codec
 * rates for the next window.
 *
 * RAN: ns-3's LTE (default; 20 MHz = 100 RBs, UMa NLoS with shadowing at 4 GHz, RLC UM with a
 * 60 KB transmit buffer).
 *
 * Output on stdout: with --printKpis one JSON line per window ({"window": ...}), and always
 * one final JSON line ({"summary": ...}). Exit code 0 after a complete episode, else see
 * xrmarl::ExitCode (1 usage, 2 protocol, 3 timeout, 4 bad action, 130 signal).
 */
#include "xr-traffic.h"
#include "xrmarl-bridge-client.h"

#include "ns3/config.h"
#include "ns3/constant-position-mobility-model.h"
#include "ns3/constant-velocity-mobility-model.h"
#include "ns3/core-module.h"
#include "ns3/epc-tft.h"
#include "ns3/eps-bearer.h"
#include "ns3/internet-stack-helper.h"
#include "ns3/ipv4-address-helper.h"
#include "ns3/ipv4-static-routing-helper.h"
#include "ns3/ipv4-static-routing.h"
#include "ns3/isotropic-antenna-model.h"
#include "ns3/lte-enb-net-device.h"
#include "ns3/lte-enb-phy.h"
#include "ns3/lte-helper.h"
#include "ns3/lte-ue-net-device.h"
#include "ns3/lte-ue-phy.h"
#include "ns3/lte-ue-rrc.h"
#include "ns3/mobility-helper.h"
#include "ns3/channel-condition-model.h"
#include "ns3/point-to-point-epc-helper.h"
#include "ns3/point-to-point-helper.h"
#include "ns3/spectrum-channel.h"
#include "ns3/three-gpp-propagation-loss-model.h"
#ifdef XRMARL_WITH_NR
#include "ns3/nr-module.h"
#endif

#include <array>
#include <cctype>
#include <functional>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

using namespace ns3;

NS_LOG_COMPONENT_DEFINE("XrCodecScenario");

namespace
{

const char* kKpiNames[] = {"delay_ms", "jitter_ms",    "pdr",
                           "plr",      "throughput_mbps", "xqi",
                           "buffer_ratio", "codec_rate_mbps"};
constexpr uint32_t kNumKpis = 8;
/// Most users one scenario takes (ports 5000.., RNG streams 4000 + 10 i and 101 + i).
constexpr uint32_t kMaxUsers = 64;

/// One XR user: agent id, type (AR, VR, CG), kind (xr, cg), codec range, and its
/// senders/monitor once built.
struct XrUser
{
    std::string id;
    std::string type;
    std::string kind;
    double rateMin{0};
    double rateMax{0};
    Ptr<Node> node;
    Ptr<NetDevice> dev;
    Ptr<XrUeMonitor> monitor;
    Ptr<XrRlcBufferTracker> rlc;
    Ptr<XrSender> video;
    std::vector<Ptr<XrSender>> side;
    uint32_t action{0};
    double startDistance{0};
};

/// Keeps a UE walking at constant speed inside the annulus [rMin, rMax] around the origin:
/// a new random heading every `turnInterval`, and a reflection of the radial velocity
/// component whenever the next `checkInterval` would take it out of the annulus.
class AnnulusWalk : public SimpleRefCount<AnnulusWalk>
{
  public:
    AnnulusWalk(Ptr<ConstantVelocityMobilityModel> m,
                double rMin,
                double rMax,
                double speed,
                Time turnInterval,
                Ptr<UniformRandomVariable> rv)
        : m_mob(m),
          m_rMin(rMin),
          m_rMax(rMax),
          m_speed(speed),
          m_turn(turnInterval),
          m_rv(rv)
    {
    }

    void Start()
    {
        Turn();
        Check();
    }

  private:
    void Turn()
    {
        const double a = m_rv->GetValue(0, 2 * M_PI);
        m_mob->SetVelocity(Vector(m_speed * std::cos(a), m_speed * std::sin(a), 0));
        Simulator::Schedule(m_turn, &AnnulusWalk::Turn, Ptr<AnnulusWalk>(this));
    }

    void Check()
    {
        const Vector p = m_mob->GetPosition();
        Vector v = m_mob->GetVelocity();
        const double dt = m_check.GetSeconds();
        const double nx = p.x + v.x * dt;
        const double ny = p.y + v.y * dt;
        const double r = std::hypot(nx, ny);
        const double pr = std::hypot(p.x, p.y);
        if ((r > m_rMax || r < m_rMin) && pr > 0)
        {
            const double ux = p.x / pr;
            const double uy = p.y / pr;
            const double vr = v.x * ux + v.y * uy; // radial speed
            if ((r > m_rMax && vr > 0) || (r < m_rMin && vr < 0))
            {
                v.x -= 2 * vr * ux;
                v.y -= 2 * vr * uy;
                m_mob->SetVelocity(v);
            }
        }
        Simulator::Schedule(m_check, &AnnulusWalk::Check, Ptr<AnnulusWalk>(this));
    }

    Ptr<ConstantVelocityMobilityModel> m_mob;
    double m_rMin;
    double m_rMax;
    double m_speed;
    Time m_turn;
    Time m_check{MilliSeconds(50)};
    Ptr<UniformRandomVariable> m_rv;
};

/// Parse the UE's RNTI from a trace context ".../UeMap/<rnti>/...".
int
RntiFromContext(const std::string& ctx)
{
    const auto pos = ctx.find("/UeMap/");
    if (pos == std::string::npos)
    {
        return -1;
    }
    return std::atoi(ctx.c_str() + pos + 7);
}

std::map<uint16_t, Ptr<XrRlcBufferTracker>> g_rlcByRnti;

void
OnPdcpTx(std::string ctx, uint16_t rnti, uint8_t lcid, uint32_t size)
{
    auto it = g_rlcByRnti.find(rnti);
    if (it != g_rlcByRnti.end())
    {
        it->second->OnPdcpTx(size);
    }
}

void
OnRlcTx(std::string ctx, uint16_t rnti, uint8_t lcid, uint32_t size)
{
    auto it = g_rlcByRnti.find(rnti);
    if (it != g_rlcByRnti.end())
    {
        it->second->OnRlcTx(size);
    }
}

void
OnRlcDrop(std::string ctx, Ptr<const Packet> p)
{
    const int rnti = RntiFromContext(ctx);
    auto it = g_rlcByRnti.find(static_cast<uint16_t>(rnti));
    if (rnti >= 0 && it != g_rlcByRnti.end())
    {
        it->second->OnRlcDrop(p->GetSize());
    }
}

/// Split `s` at `sep` (empty items kept).
std::vector<std::string>
Split(const std::string& s, char sep)
{
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, sep))
    {
        out.push_back(item);
    }
    if (!s.empty() && s.back() == sep)
    {
        out.emplace_back();
    }
    return out;
}

/// Parse a number, the whole string or nothing.
bool
ParseDouble(const std::string& s, double& out)
{
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && *end == '\0' && std::isfinite(out);
}

/**
 * Parse --users: comma-separated "[ID=]TYPE[:MIN:MAX]", TYPE one of AR, VR, CG, MIN:MAX the
 * codec range in Mbps (default: `ranges[TYPE]`). A user without ID= is named after its type,
 * numbered (VR1, VR2, ...) when the type occurs more than once, the rule xr_codec_marl's
 * parse_users follows. Returns "" or what is wrong.
 */
std::string
ParseUsers(const std::string& spec,
           const std::map<std::string, std::pair<double, double>>& ranges,
           std::vector<XrUser>& users)
{
    users.clear();
    std::map<std::string, uint32_t> count;
    std::vector<bool> named;
    for (const std::string& item : Split(spec, ','))
    {
        XrUser u;
        std::string body = item;
        const auto eq = item.find('=');
        if (eq != std::string::npos)
        {
            u.id = item.substr(0, eq);
            body = item.substr(eq + 1);
            if (u.id.empty())
            {
                return "user '" + item + "' has an empty ID";
            }
        }
        const std::vector<std::string> parts = Split(body, ':');
        u.type = parts.empty() ? "" : parts[0];
        for (auto& c : u.type)
        {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        const auto range = ranges.find(u.type);
        if (range == ranges.end() || (parts.size() != 1 && parts.size() != 3))
        {
            return "user '" + item + "' must be [ID=]TYPE or [ID=]TYPE:MIN:MAX with TYPE AR, VR or CG";
        }
        u.kind = u.type == "CG" ? "cg" : "xr";
        u.rateMin = range->second.first;
        u.rateMax = range->second.second;
        if (parts.size() == 3 && !(ParseDouble(parts[1], u.rateMin) && ParseDouble(parts[2], u.rateMax)))
        {
            return "user '" + item + "': codec range MIN:MAX must be numbers (Mbps)";
        }
        if (!(u.rateMin > 0 && u.rateMin <= u.rateMax))
        {
            return "codec range of user '" + item + "' must satisfy 0 < min <= max";
        }
        named.push_back(!u.id.empty());
        ++count[u.type];
        users.push_back(u);
    }
    std::map<std::string, uint32_t> seen;
    for (size_t i = 0; i < users.size(); ++i)
    {
        const uint32_t k = ++seen[users[i].type];
        if (!named[i])
        {
            users[i].id = count[users[i].type] == 1 ? users[i].type : users[i].type + std::to_string(k);
        }
    }
    for (size_t i = 0; i < users.size(); ++i)
    {
        for (size_t j = 0; j < i; ++j)
        {
            if (users[i].id == users[j].id)
            {
                return "two users are called '" + users[i].id + "'";
            }
        }
    }
    return "";
}

/// Parse --fixedAction: "" (server), "max", "min", "K" (all agents) or "a,b,c".
bool
ParseFixedAction(const std::string& s, uint32_t nAgents, uint32_t nRates, std::vector<uint32_t>& out)
{
    out.clear();
    if (s == "max" || s == "min")
    {
        out.assign(nAgents, s == "max" ? nRates - 1 : 0);
        return true;
    }
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
    {
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || v < 0)
        {
            return false;
        }
        out.push_back(static_cast<uint32_t>(v));
    }
    if (out.size() == 1)
    {
        out.assign(nAgents, out[0]);
    }
    return out.size() == nAgents;
}

[[noreturn]] void
Usage(const std::string& msg)
{
    std::cerr << "xr-codec: error: " << msg << " (see --help)" << std::endl;
    std::exit(xrmarl::EXIT_USAGE);
}

std::string
Num(double x)
{
    if (!std::isfinite(x))
    {
        return "null";
    }
    std::ostringstream os;
    os << std::setprecision(7) << x;
    return os.str();
}

} // namespace

int
main(int argc, char* argv[])
{
    GOOGLE_PROTOBUF_VERIFY_VERSION;
    const auto wallStart = std::chrono::steady_clock::now();

    // ------------------------------------------------------------------ parameters
    double ringRadius = 400.0;
    double minDistance = 35.0;
    uint64_t seed = 1;
    uint32_t run = 1;
    std::string endpoint = xrmarl::kDefaultEndpoint;
    uint32_t timeoutMs = 10000;
    std::string identity;
    std::string fixedAction;
    bool printKpis = false;
    uint32_t nRates = 10;
    std::string usersSpec;
    double arMin = 0.5, arMax = 10.0, vrMin = 10.0, vrMax = 30.0, cgMin = 10.0, cgMax = 30.0;
    double audioMbps = 0.756, audioPeriodMs = 4.0;
    uint32_t poseBytes = 100;
    double posePeriodMs = 4.0;
    uint32_t bandwidthRbs = 100;
    uint32_t rlcBufferBytes = 60000;
    double fps = 60.0, sizeStdFrac = 0.105, sizeMinFrac = 0.5, sizeMaxFrac = 1.5;
    double jitterStdMs = 2.0, jitterBoundMs = 4.0, pacingMs = 0.0;
    uint32_t mtu = 1500;
    double stepInterval = 0.5;
    uint32_t episodeLimit = 40;
    double warmup = 0.5;
    double lossDeadlineMs = 100.0;
    double ueSpeed = 3.0, turnInterval = 1.0;
    double frequencyGhz = 4.0;
    double enbTxDbm = 43.0, ueTxDbm = 26.0, enbNoiseFigure = 5.0, ueNoiseFigure = 7.0;
    double enbAntennaGainDb = 0.0;
    double enbHeight = 25.0, ueHeight = 1.5;
    bool shadowing = true;
    std::string scheduler = "ns3::PfFfMacScheduler";
    uint32_t bearerQci = 80;
    double coreDelayMs = 1.0;
    // NR only (-DXRMARL_WITH_NR=ON)
    uint32_t numerology = 2;
    uint32_t gnbAntennaRows = 4, gnbAntennaCols = 8;
    std::string nrScheduler = "ns3::NrMacSchedulerOfdmaPF";

    CommandLine cmd(__FILE__);
    cmd.Usage("XR codec adaptation scenario (xr-codec-marl). Talks to the agent server at "
              "--endpoint, or runs standalone with --fixedAction.");
    cmd.AddValue("ringRadius", "Ring radius R (m): UEs live in the disc [minDistance, R]", ringRadius);
    cmd.AddValue("minDistance", "Minimum UE distance from the base station (m)", minDistance);
    cmd.AddValue("seed", "Seed S (echoed in the handshake); ns-3 RngRun = S * 100000 + run", seed);
    cmd.AddValue("run", "Run R, 1..99999 (several simulators with one seed)", run);
    cmd.AddValue("endpoint", "Agent server endpoint: tcp://HOST:PORT or ipc://PATH", endpoint);
    cmd.AddValue("timeoutMs", "Timeout of every receive from the server (wall ms)", timeoutMs);
    cmd.AddValue("identity", "ZeroMQ routing id (default sim-<pid>-<random>)", identity);
    cmd.AddValue("fixedAction",
                 "Run without a server with this joint action: max, min, K or a,b,c",
                 fixedAction);
    cmd.AddValue("printKpis", "Print one JSON line of KPIs per window on stdout", printKpis);
    cmd.AddValue("nRates", "K_o: codec rates per agent, evenly spaced in [min, max]", nRates);
    cmd.AddValue("users",
                 "XR users, one agent each: comma-separated [ID=]TYPE[:MIN:MAX], TYPE AR, VR or "
                 "CG, codec range in Mbps (default: --arMin/--arMax ...); empty: AR,VR,CG",
                 usersSpec);
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
    cmd.AddValue("bandwidthRbs", "LTE bandwidth in RBs: 6, 15, 25, 50, 75 or 100 (20 MHz)", bandwidthRbs);
    cmd.AddValue("rlcBufferBytes", "RLC UM transmit buffer (bytes)", rlcBufferBytes);
    cmd.AddValue("fps", "XR frames per second", fps);
    cmd.AddValue("sizeStdFrac", "Frame size std as a fraction of the mean", sizeStdFrac);
    cmd.AddValue("sizeMinFrac", "Frame size lower truncation (fraction of the mean)", sizeMinFrac);
    cmd.AddValue("sizeMaxFrac", "Frame size upper truncation (fraction of the mean)", sizeMaxFrac);
    cmd.AddValue("jitterStdMs", "Frame arrival jitter std (ms)", jitterStdMs);
    cmd.AddValue("jitterBoundMs", "Frame arrival jitter bound (ms)", jitterBoundMs);
    cmd.AddValue("pacingMs", "Spread a frame's packets over this time (0: one burst)", pacingMs);
    cmd.AddValue("mtu", "IP MTU (bytes); a frame is split into packets of this size", mtu);
    cmd.AddValue("stepInterval", "Observation window t_w (s)", stepInterval);
    cmd.AddValue("episodeLimit", "Windows per episode", episodeLimit);
    cmd.AddValue("warmup", "Simulated time before step 0 and the first frame (s)", warmup);
    cmd.AddValue("lossDeadlineMs", "A packet not received within this time counts as lost (ms)", lossDeadlineMs);
    cmd.AddValue("ueSpeed", "UE speed (m/s)", ueSpeed);
    cmd.AddValue("turnInterval", "Random walk: new heading every this many seconds", turnInterval);
    cmd.AddValue("frequencyGhz", "Carrier frequency for the path loss (GHz)", frequencyGhz);
    cmd.AddValue("enbTxDbm", "Base station transmit power (dBm)", enbTxDbm);
    cmd.AddValue("ueTxDbm", "UE transmit power (dBm)", ueTxDbm);
    cmd.AddValue("enbNoiseFigure", "Base station noise figure (dB)", enbNoiseFigure);
    cmd.AddValue("ueNoiseFigure", "UE noise figure (dB)", ueNoiseFigure);
    cmd.AddValue("enbAntennaGainDb", "Base station antenna gain (dB; stands in for the array)", enbAntennaGainDb);
    cmd.AddValue("enbHeight", "Base station height (m)", enbHeight);
    cmd.AddValue("ueHeight", "UE height (m)", ueHeight);
    cmd.AddValue("shadowing", "3GPP shadowing on the path loss", shadowing);
    cmd.AddValue("scheduler", "LTE MAC scheduler TypeId", scheduler);
    cmd.AddValue("bearerQci", "QCI of the XR bearer (80 = low-latency eMBB, Release 15)", bearerQci);
    cmd.AddValue("coreDelayMs", "One-way delay of the remote host -> PGW link (ms)", coreDelayMs);
    cmd.AddValue("numerology", "NR builds only: numerology of the bandwidth part", numerology);
    cmd.AddValue("gnbAntennaRows", "NR builds only: gNB array rows", gnbAntennaRows);
    cmd.AddValue("gnbAntennaCols", "NR builds only: gNB array columns", gnbAntennaCols);
    cmd.AddValue("nrScheduler", "NR builds only: MAC scheduler TypeId", nrScheduler);
    // aliases used by xr_codec_marl.env.ns3_env (XRScenario field names)
    double windowAlias = -1, bandwidthMhz = -1, gnbTxPower = std::nan("");
    uint32_t rlcBufferAlias = 0;
    cmd.AddValue("window", "Alias of stepInterval (s)", windowAlias);
    cmd.AddValue("bandwidthMhz", "LTE bandwidth in MHz (1.4, 3, 5, 10, 15, 20): sets bandwidthRbs", bandwidthMhz);
    cmd.AddValue("rlcBuffer", "Alias of rlcBufferBytes", rlcBufferAlias);
    cmd.AddValue("gnbTxPower", "Alias of enbTxDbm", gnbTxPower);
    cmd.Parse(argc, argv);
    if (windowAlias > 0)
        stepInterval = windowAlias;
    else if (windowAlias != -1)
        Usage("window must be > 0");
    if (rlcBufferAlias > 0)
        rlcBufferBytes = rlcBufferAlias;
    if (!std::isnan(gnbTxPower))
        enbTxDbm = gnbTxPower;
    if (bandwidthMhz != -1)
    {
        bandwidthRbs = std::abs(bandwidthMhz - 1.4) < 1e-6
                           ? 6
                           : static_cast<uint32_t>(std::lround(bandwidthMhz * 5));
        if (std::abs(bandwidthRbs / 5.0 - bandwidthMhz) > 1e-6 && bandwidthRbs != 6)
            bandwidthRbs = 0; // not an LTE bandwidth: refused below
    }

    // ------------------------------------------------------------------ validation
    if (!(ringRadius > minDistance) || minDistance < 0)
        Usage("ringRadius must exceed minDistance (>= 0), got " + Num(ringRadius) + " and " +
              Num(minDistance));
    if (nRates < 2)
        Usage("nRates must be >= 2");
    std::vector<XrUser> users;
    {
        const std::string bad = ParseUsers(usersSpec.empty() ? "AR,VR,CG" : usersSpec,
                                           {{"AR", {arMin, arMax}}, {"VR", {vrMin, vrMax}}, {"CG", {cgMin, cgMax}}},
                                           users);
        if (!bad.empty())
            Usage("--users: " + bad);
        if (users.size() > kMaxUsers)
            Usage("--users: at most " + std::to_string(kMaxUsers) + " users, got " +
                  std::to_string(users.size()));
    }
#ifndef XRMARL_WITH_NR
    static const uint32_t rbs[] = {6, 15, 25, 50, 75, 100};
    if (std::find(std::begin(rbs), std::end(rbs), bandwidthRbs) == std::end(rbs))
        Usage("LTE bandwidth must be 6, 15, 25, 50, 75 or 100 RBs (1.4, 3, 5, 10, 15, 20 MHz); "
              "ns-3's LTE has nothing wider than 20 MHz");
    const double reportedBandwidthMhz = bandwidthRbs * 0.2;
#else
    if (bandwidthMhz != -1 && !(bandwidthMhz > 0))
        Usage("bandwidthMhz must be > 0");
    const double reportedBandwidthMhz = bandwidthMhz > 0 ? bandwidthMhz : 40.0;
#endif
    if (!(stepInterval > 0) || episodeLimit == 0 || !(fps > 0) || !(warmup >= 0.1))
        Usage("stepInterval, episodeLimit and fps must be > 0, warmup >= 0.1 s");
    if (mtu < 100 || rlcBufferBytes < mtu)
        Usage("mtu must be >= 100 and rlcBufferBytes >= mtu");
    if (timeoutMs == 0)
        Usage("timeoutMs must be > 0");
    static const uint32_t qcis[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 65, 66, 67, 69, 70, 71, 72,
                                    73, 74, 75, 76, 79, 80, 82, 83, 84, 85};
    if (std::find(std::begin(qcis), std::end(qcis), bearerQci) == std::end(qcis))
        Usage("bearerQci " + std::to_string(bearerQci) + " is not a standard QCI (Release 15)");
    if (fixedAction.empty())
    {
        const std::string bad = xrmarl::CheckEndpoint(endpoint);
        if (!bad.empty())
            Usage(bad);
    }

    if (seed >= 0xffffffffULL)
        Usage("seed must be < 4294967295");
    if (run == 0 || run >= 100000)
        Usage("run must be in 1..99999");
    // Independent replications come from ns-3 run substreams, not from the seed: MRG32k3a's
    // first draws under small, nearby seeds are strongly correlated. One fixed ns-3 seed, and
    // the run number carries (seed, run).
    RngSeedManager::SetSeed(12345);
    RngSeedManager::SetRun(seed * 100000ULL + run);
    xrmarl::InstallSignalHandlers();

    const uint32_t nUe = users.size();
    NS_LOG_INFO(nUe << " XR users");
    auto rateOf = [&](const XrUser& u, uint32_t k) {
        return u.rateMin + (u.rateMax - u.rateMin) * k / (nRates - 1);
    };

    std::vector<uint32_t> fixed;
    if (!fixedAction.empty() && !ParseFixedAction(fixedAction, nUe, nRates, fixed))
        Usage("--fixedAction must be max, min, K or K1,...,K" + std::to_string(nUe) +
              " (non-negative integers), got '" + fixedAction + "'");

    // ------------------------------------------------------------------ nodes and positions
    NodeContainer enbNodes;
    enbNodes.Create(1);
    NodeContainer ueNodes;
    ueNodes.Create(nUe);
    MobilityHelper enbMob;
    enbMob.SetMobilityModel("ns3::ConstantPositionMobilityModel");
    enbMob.Install(enbNodes);
    enbNodes.Get(0)->GetObject<MobilityModel>()->SetPosition(Vector(0, 0, enbHeight));
    MobilityHelper ueMob;
    ueMob.SetMobilityModel("ns3::ConstantVelocityMobilityModel");
    ueMob.Install(ueNodes);
    Ptr<UniformRandomVariable> placeRv = CreateObject<UniformRandomVariable>();
    placeRv->SetStream(100);
    std::vector<Ptr<AnnulusWalk>> walks;
    for (uint32_t i = 0; i < nUe; ++i)
    {
        // uniform by area in the annulus
        const double r = std::sqrt(placeRv->GetValue(minDistance * minDistance, ringRadius * ringRadius));
        const double a = placeRv->GetValue(0, 2 * M_PI);
        auto mob = ueNodes.Get(i)->GetObject<ConstantVelocityMobilityModel>();
        mob->SetPosition(Vector(r * std::cos(a), r * std::sin(a), ueHeight));
        users[i].startDistance = r;
        Ptr<UniformRandomVariable> walkRv = CreateObject<UniformRandomVariable>();
        walkRv->SetStream(101 + i);
        walks.push_back(Create<AnnulusWalk>(mob, minDistance, ringRadius, ueSpeed,
                                            Seconds(turnInterval), walkRv));
        if (ueSpeed > 0)
        {
            walks.back()->Start();
        }
    }

    InternetStackHelper internet;
    Ipv4StaticRoutingHelper routing;
    // What the rest of the scenario needs from the RAN, whichever it is
    Ptr<Node> pgw;
    NetDeviceContainer ueDevs;
    Ipv4InterfaceContainer ueIfs;
    std::function<void(Ptr<NetDevice>, uint16_t)> activateXrBearer;
    std::function<uint16_t(Ptr<NetDevice>)> rntiOf;
    // trace paths at the base station: {rrc, pdcp, rlc} names to try, in order
    std::vector<std::array<std::string, 4>> tracePaths;
    std::string ranName;

#ifndef XRMARL_WITH_NR
    // ------------------------------------------------------------------ RAN: LTE
    ranName = "lte";
    Config::SetDefault("ns3::EpsBearer::Release", UintegerValue(15)); // QCI 80 needs Release 15
    Config::SetDefault("ns3::LteRlcUm::MaxTxBufferSize", UintegerValue(rlcBufferBytes));
    // ns-3.44's "PDCP discarding" only fires the TxDrop trace for late SDUs and still queues
    // them; off, TxDrop reports exactly the SDUs refused by a full buffer (same behaviour)
    Config::SetDefault("ns3::LteRlcUm::EnablePdcpDiscarding", BooleanValue(false));
    Config::SetDefault("ns3::LteEnbPhy::TxPower", DoubleValue(enbTxDbm));
    Config::SetDefault("ns3::LteUePhy::TxPower", DoubleValue(ueTxDbm));
    Config::SetDefault("ns3::LteEnbPhy::NoiseFigure", DoubleValue(enbNoiseFigure));
    Config::SetDefault("ns3::LteUePhy::NoiseFigure", DoubleValue(ueNoiseFigure));
    Config::SetDefault("ns3::LteEnbNetDevice::DlBandwidth", UintegerValue(bandwidthRbs));
    Config::SetDefault("ns3::LteEnbNetDevice::UlBandwidth", UintegerValue(bandwidthRbs));
    Config::SetDefault("ns3::LteEnbRrc::SrsPeriodicity", UintegerValue(20));
    Config::SetDefault("ns3::ThreeGppPropagationLossModel::ShadowingEnabled", BooleanValue(shadowing));

    Ptr<LteHelper> lte = CreateObject<LteHelper>();
    Ptr<PointToPointEpcHelper> epc = CreateObject<PointToPointEpcHelper>();
    lte->SetEpcHelper(epc);
    lte->SetSchedulerType(scheduler);
    lte->SetAttribute("PathlossModel", StringValue("ns3::ThreeGppUmaPropagationLossModel"));
    lte->SetPathlossModelAttribute("ChannelConditionModel",
                                   PointerValue(CreateObject<NeverLosChannelConditionModel>()));
    lte->SetEnbAntennaModelType("ns3::IsotropicAntennaModel");
    lte->SetEnbAntennaModelAttribute("Gain", DoubleValue(enbAntennaGainDb));
    pgw = epc->GetPgwNode();

    NetDeviceContainer enbDevs = lte->InstallEnbDevice(enbNodes);
    ueDevs = lte->InstallUeDevice(ueNodes);
    lte->AssignStreams(enbDevs, 1000);
    lte->AssignStreams(ueDevs, 2000);
    // LteHelper sets the path-loss frequency from the EARFCN; the scenario's carrier is 4 GHz
    for (auto ch : {lte->GetDownlinkSpectrumChannel(), lte->GetUplinkSpectrumChannel()})
    {
        for (Ptr<PropagationLossModel> m = ch->GetPropagationLossModel(); m; m = m->GetNext())
        {
            m->SetAttributeFailSafe("Frequency", DoubleValue(frequencyGhz * 1e9));
            if (auto tg = DynamicCast<ThreeGppPropagationLossModel>(m))
            {
                tg->AssignStreams(3000);
            }
        }
    }
    internet.Install(ueNodes);
    ueIfs = epc->AssignUeIpv4Address(ueDevs);
    for (uint32_t i = 0; i < nUe; ++i)
    {
        routing.GetStaticRouting(ueNodes.Get(i)->GetObject<Ipv4>())
            ->SetDefaultRoute(epc->GetUeDefaultGatewayAddress(), 1);
    }
    lte->Attach(ueDevs, enbDevs.Get(0));
    activateXrBearer = [&](Ptr<NetDevice> dev, uint16_t port) {
        Ptr<EpcTft> tft = Create<EpcTft>();
        EpcTft::PacketFilter pf;
        pf.direction = EpcTft::DOWNLINK;
        pf.localPortStart = port;
        pf.localPortEnd = port;
        tft->Add(pf);
        lte->ActivateDedicatedEpsBearer(dev, EpsBearer(static_cast<EpsBearer::Qci>(bearerQci)), tft);
    };
    rntiOf = [](Ptr<NetDevice> dev) {
        return dev->GetObject<LteUeNetDevice>()->GetRrc()->GetRnti();
    };
    tracePaths.push_back({"$ns3::LteEnbNetDevice", "LteEnbRrc", "LtePdcp", "LteRlc"});
#else
    // ------------------------------------------------------------------ RAN: 5G-LENA NR
    // Table III: one gNB, 4x8 array, numerology 2, 40 MHz at 4 GHz, UMa NLoS.
    // Written against 5G-LENA's v4 API (ns-3.44/3.45); see README.md "NR".
    ranName = "nr";
    const double nrBandwidthHz = (bandwidthMhz > 0 ? bandwidthMhz : 40.0) * 1e6;
    Config::SetDefaultFailSafe("ns3::NrEpsBearer::Release", UintegerValue(15));
    Config::SetDefault("ns3::NrRlcUm::MaxTxBufferSize", UintegerValue(rlcBufferBytes));
    Config::SetDefaultFailSafe("ns3::NrRlcUm::EnablePdcpDiscarding", BooleanValue(false));
    Config::SetDefaultFailSafe("ns3::NrUePhy::TxPower", DoubleValue(ueTxDbm));
    Config::SetDefaultFailSafe("ns3::NrUePhy::NoiseFigure", DoubleValue(ueNoiseFigure));
    Config::SetDefaultFailSafe("ns3::NrGnbPhy::NoiseFigure", DoubleValue(enbNoiseFigure));

    Ptr<NrPointToPointEpcHelper> epc = CreateObject<NrPointToPointEpcHelper>();
    Ptr<IdealBeamformingHelper> bf = CreateObject<IdealBeamformingHelper>();
    Ptr<NrHelper> nr = CreateObject<NrHelper>();
    nr->SetBeamformingHelper(bf);
    nr->SetEpcHelper(epc);
    bf->SetAttribute("BeamformingMethod", TypeIdValue(DirectPathBeamforming::GetTypeId()));
    nr->SetSchedulerTypeId(TypeId::LookupByName(nrScheduler));
    CcBwpCreator ccBwpCreator;
    CcBwpCreator::SimpleOperationBandConf bandConf(frequencyGhz * 1e9, nrBandwidthHz, 1);
    bandConf.m_numBwp = 1;
    OperationBandInfo band = ccBwpCreator.CreateOperationBandContiguousCc(bandConf);
    Ptr<NrChannelHelper> channel = CreateObject<NrChannelHelper>();
    channel->ConfigureFactories("UMa", "NLOS", "ThreeGpp");
    channel->SetPathlossAttribute("ShadowingEnabled", BooleanValue(shadowing));
    channel->AssignChannelsToBands({band});
    BandwidthPartInfoPtrVector allBwps = CcBwpCreator::GetAllBwps({band});
    nr->SetGnbAntennaAttribute("NumRows", UintegerValue(gnbAntennaRows));
    nr->SetGnbAntennaAttribute("NumColumns", UintegerValue(gnbAntennaCols));
    nr->SetGnbAntennaAttribute("AntennaElement", PointerValue(CreateObject<IsotropicAntennaModel>()));
    nr->SetUeAntennaAttribute("NumRows", UintegerValue(1));
    nr->SetUeAntennaAttribute("NumColumns", UintegerValue(1));
    nr->SetUeAntennaAttribute("AntennaElement", PointerValue(CreateObject<IsotropicAntennaModel>()));
    nr->SetGnbBwpManagerAlgorithmAttribute("NGBR_LOW_LAT_EMBB", UintegerValue(0));
    nr->SetUeBwpManagerAlgorithmAttribute("NGBR_LOW_LAT_EMBB", UintegerValue(0));
    pgw = epc->GetPgwNode();

    NetDeviceContainer gnbDevs = nr->InstallGnbDevice(enbNodes, allBwps);
    ueDevs = nr->InstallUeDevice(ueNodes, allBwps);
    nr->AssignStreams(gnbDevs, 1000);
    nr->AssignStreams(ueDevs, 2000);
    nr->GetGnbPhy(gnbDevs.Get(0), 0)->SetAttribute("Numerology", UintegerValue(numerology));
    nr->GetGnbPhy(gnbDevs.Get(0), 0)->SetAttribute("TxPower", DoubleValue(enbTxDbm));
    internet.Install(ueNodes);
    ueIfs = epc->AssignUeIpv4Address(ueDevs);
    for (uint32_t i = 0; i < nUe; ++i)
    {
        routing.GetStaticRouting(ueNodes.Get(i)->GetObject<Ipv4>())
            ->SetDefaultRoute(epc->GetUeDefaultGatewayAddress(), 1);
    }
    nr->AttachToClosestGnb(ueDevs, gnbDevs);
    activateXrBearer = [&](Ptr<NetDevice> dev, uint16_t port) {
        Ptr<NrEpcTft> tft = Create<NrEpcTft>();
        NrEpcTft::PacketFilter pf;
        pf.direction = NrEpcTft::DOWNLINK;
        pf.localPortStart = port;
        pf.localPortEnd = port;
        tft->Add(pf);
        nr->ActivateDedicatedEpsBearer(dev, NrEpsBearer(static_cast<NrEpsBearer::Qci>(bearerQci)), tft);
    };
    rntiOf = [](Ptr<NetDevice> dev) {
        return DynamicCast<NrUeNetDevice>(dev)->GetRrc()->GetRnti();
    };
    tracePaths.push_back({"$ns3::NrGnbNetDevice", "NrGnbRrc", "NrPdcp", "NrRlc"});
    tracePaths.push_back({"$ns3::NrGnbNetDevice", "LteEnbRrc", "LtePdcp", "LteRlc"});
#endif

    // ------------------------------------------------------------------ core: XR server -- PGW
    NodeContainer remoteHosts;
    remoteHosts.Create(1);
    Ptr<Node> remoteHost = remoteHosts.Get(0);
    internet.Install(remoteHosts);
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate("10Gb/s")));
    p2p.SetDeviceAttribute("Mtu", UintegerValue(mtu));
    p2p.SetChannelAttribute("Delay", TimeValue(MicroSeconds(static_cast<int64_t>(coreDelayMs * 1000))));
    NetDeviceContainer coreDevs = p2p.Install(pgw, remoteHost);
    Ipv4AddressHelper ipv4h;
    ipv4h.SetBase("1.0.0.0", "255.0.0.0");
    ipv4h.Assign(coreDevs);
    routing.GetStaticRouting(remoteHost->GetObject<Ipv4>())
        ->AddNetworkRouteTo(Ipv4Address("7.0.0.0"), Ipv4Mask("255.0.0.0"), 1);

    // ------------------------------------------------------------------ traffic and KPIs
    const Time t0 = Seconds(warmup);
    const uint32_t packetSize = mtu - 28; // IPv4 + UDP headers
    for (uint32_t i = 0; i < nUe; ++i)
    {
        XrUser& u = users[i];
        u.node = ueNodes.Get(i);
        u.dev = ueDevs.Get(i);
        const uint16_t port = 5000 + i;
        activateXrBearer(u.dev, port); // low-latency dedicated bearer for this UE's XR port

        u.monitor = CreateObject<XrUeMonitor>();
        u.monitor->SetAttribute("LossDeadline", TimeValue(MicroSeconds(static_cast<int64_t>(lossDeadlineMs * 1000))));
        u.monitor->Listen(u.node, port);
        u.rlc = CreateObject<XrRlcBufferTracker>();
        u.rlc->SetCapacity(rlcBufferBytes);

        const Address remote = InetSocketAddress(ueIfs.GetAddress(i), port);
        auto makeSender = [&](uint32_t flow, double rate, double f, double std, double jit) {
            Ptr<XrSender> s = CreateObject<XrSender>();
            s->SetAttribute("Remote", AddressValue(remote));
            s->SetAttribute("RateMbps", DoubleValue(rate));
            s->SetAttribute("Fps", DoubleValue(f));
            s->SetAttribute("SizeStdFrac", DoubleValue(std));
            s->SetAttribute("SizeMinFrac", DoubleValue(sizeMinFrac));
            s->SetAttribute("SizeMaxFrac", DoubleValue(sizeMaxFrac));
            s->SetAttribute("JitterStdMs", DoubleValue(jit));
            s->SetAttribute("JitterBoundMs", DoubleValue(jitterBoundMs));
            s->SetAttribute("PacingMs", DoubleValue(flow == 0 ? pacingMs : 0.0));
            s->SetAttribute("PacketSize", UintegerValue(packetSize));
            s->SetAttribute("FlowId", UintegerValue(flow));
            s->SetMonitor(u.monitor);
            s->AssignStreams(4000 + 10 * i + 2 * flow);
            remoteHost->AddApplication(s);
            s->SetStartTime(t0);
            return s;
        };
        u.video = makeSender(0, u.rateMax, fps, sizeStdFrac, jitterStdMs);
        if (u.type == "AR")
        {
            // audio 0.756 Mbps and pose 100 B, one packet every 4 ms each
            u.side.push_back(makeSender(1, audioMbps, 1000.0 / audioPeriodMs, 0.0, 0.0));
            u.side.push_back(makeSender(2, poseBytes * 8.0 / posePeriodMs / 1000.0,
                                        1000.0 / posePeriodMs, 0.0, 0.0));
        }
        u.monitor->SetFlowCount(1 + u.side.size());
    }

    // RLC occupancy traces at the eNB. They can only be connected once every UE's bearers
    // exist (default + XR bearer per UE): poll from t0/2 every 5 ms, connect as soon as all
    // 2 x nUe radio bearers are there, or at t0 with whatever exists (and say so).
    bool tracesOk = false;
    uint32_t tracedBearers = 0;
    std::function<void()> connectTraces = [&]() {
        const bool last = Simulator::Now() + MilliSeconds(5) >= t0;
        for (const auto& [dev, rrc, pdcp, rlc] : tracePaths)
        {
            const std::string base = "/NodeList/*/DeviceList/*/" + dev + "/" + rrc +
                                     "/UeMap/*/DataRadioBearerMap/*/";
            const uint32_t found = Config::LookupMatches(base + rlc).GetN();
            if (found == 0 || (found < 2 * nUe && !last))
            {
                continue;
            }
            for (auto& u : users)
            {
                g_rlcByRnti[rntiOf(u.dev)] = u.rlc;
            }
            tracesOk = Config::ConnectFailSafe(base + pdcp + "/TxPDU", MakeCallback(&OnPdcpTx)) &&
                       Config::ConnectFailSafe(base + rlc + "/TxPDU", MakeCallback(&OnRlcTx)) &&
                       Config::ConnectFailSafe(base + rlc + "/TxDrop", MakeCallback(&OnRlcDrop));
            tracedBearers = found;
            if (tracesOk && found < 2 * nUe)
            {
                NS_LOG_WARN("only " << found << " of " << 2 * nUe
                                    << " radio bearers exist at t0; buffer_ratio may miss some");
            }
            return;
        }
        if (!last)
        {
            Simulator::Schedule(MilliSeconds(5), connectTraces);
            return;
        }
        NS_LOG_WARN("RLC/PDCP traces not found: bearers not set up; buffer_ratio stays 0");
    };
    Simulator::Schedule(t0 / 2, connectTraces);

    // ------------------------------------------------------------------ the agent bridge
    Ptr<XrMarlBridgeClient> bridge = CreateObject<XrMarlBridgeClient>();
    bridge->SetAttribute("Endpoint", StringValue(endpoint));
    bridge->SetAttribute("TimeoutMs", UintegerValue(timeoutMs));
    bridge->SetAttribute("StepInterval", TimeValue(Seconds(stepInterval)));
    bridge->SetAttribute("EpisodeLimit", UintegerValue(episodeLimit));
    bridge->SetAttribute("Identity", StringValue(identity));

    xrmarl::v1::Hello hello;
    hello.set_scenario("xr-codec");
    hello.set_seed(seed);
    hello.set_run(run);
    for (const auto& u : users)
    {
        auto* a = hello.add_agents();
        a->set_id(u.id);
        a->set_kind(u.kind);
        a->set_obs_size(nUe + 2); // eq. 13, computed by the server from the KPIs
        a->set_n_actions(nRates);
        for (uint32_t k = 0; k < nRates; ++k)
            a->add_action_values(rateOf(u, k));
    }
    hello.set_state_size(nUe * 5);
    for (const char* k : kKpiNames)
        hello.add_kpi_names(k);
    auto& params = *hello.mutable_parameters();
    params["ran"] = ranName;
    params["ring_m"] = Num(ringRadius);
    params["min_distance_m"] = Num(minDistance);
    params["bandwidth_rbs"] = std::to_string(bandwidthRbs);
    params["bandwidth_mhz"] = Num(reportedBandwidthMhz);
    params["frequency_ghz"] = Num(frequencyGhz);
    params["rlc_buffer_bytes"] = std::to_string(rlcBufferBytes);
    params["fps"] = Num(fps);
    params["n_rates"] = std::to_string(nRates);
    {
        std::ostringstream us;
        for (uint32_t i = 0; i < nUe; ++i)
            us << (i ? "," : "") << users[i].id << "=" << users[i].type << ":" << Num(users[i].rateMin)
               << ":" << Num(users[i].rateMax);
        params["users"] = us.str();
    }
    params["loss_deadline_ms"] = Num(lossDeadlineMs);
    params["enb_antenna_gain_db"] = Num(enbAntennaGainDb);
    bridge->SetHello(hello);

    uint64_t lastStep = 0;
    std::vector<std::vector<double>> sums(nUe, std::vector<double>(kNumKpis, 0.0));
    bridge->SetObserveCallback([&](uint64_t step) {
        XrMarlStepReport r;
        r.kpis.assign(nUe * kNumKpis, 0.0f);
        const Time len = Seconds(stepInterval);
        std::ostringstream js;
        if (printKpis && step > 0)
            js << "{\"window\":" << step << ",\"t\":" << Num(Simulator::Now().GetSeconds()) << ",\"kpis\":{";
        for (uint32_t i = 0; i < nUe; ++i)
        {
            XrUser& u = users[i];
            const XrUeMonitor::Window w = u.monitor->CloseWindow(len);
            const double buf = u.rlc->CloseWindow();
            if (step == 0)
                continue; // nothing measured yet: zeros, as the analytic backend at reset
            const double k[kNumKpis] = {w.delayMs, w.jitterMs, w.pdr, w.plr, w.throughputMbps,
                                        w.xqi, buf, u.video->GetRateMbps()};
            for (uint32_t j = 0; j < kNumKpis; ++j)
            {
                r.kpis[i * kNumKpis + j] = static_cast<float>(k[j]);
                sums[i][j] += k[j];
            }
            if (printKpis)
            {
                js << (i ? "," : "") << "\"" << u.id << "\":{";
                for (uint32_t j = 0; j < kNumKpis; ++j)
                    js << (j ? "," : "") << "\"" << kKpiNames[j] << "\":" << Num(k[j]);
                js << ",\"action\":" << u.action << "}";
            }
        }
        if (printKpis && step > 0)
            std::cout << js.str() << "}}" << std::endl;
        lastStep = step;
        return r;
    });
    bridge->SetActionCallback([&](uint64_t step, const std::vector<uint32_t>& actions) {
        for (uint32_t i = 0; i < nUe; ++i)
        {
            users[i].action = actions[i];
            users[i].video->SetRateMbps(rateOf(users[i], actions[i]));
        }
    });
    if (!fixed.empty())
        bridge->SetFixedActions(fixed);

    if (!bridge->Start(t0))
    {
        std::cerr << "xr-codec: " << bridge->Failure() << std::endl;
        Simulator::Destroy();
        return bridge->ExitCode();
    }

    // hard stop a little after the terminal step (the bridge stops the simulator itself)
    const Time end = t0 + Seconds(stepInterval * episodeLimit) + MilliSeconds(1);
    Simulator::Stop(end);
    Simulator::Run();

    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    const double simS = Simulator::Now().GetSeconds();
    const int code = bridge->Failed() ? bridge->ExitCode()
                     : bridge->Finished() ? 0
                                          : static_cast<int>(xrmarl::EXIT_PROTOCOL);
    std::ostringstream js;
    js << "{\"summary\":{\"scenario\":\"xr-codec\",\"ran\":\"" << ranName << "\",\"ring_m\":" << Num(ringRadius)
       << ",\"seed\":" << seed << ",\"run\":" << run << ",\"windows\":" << lastStep
       << ",\"sim_s\":" << Num(simS) << ",\"wall_s\":" << Num(wall)
       << ",\"sim_s_per_wall_s\":" << Num(wall > 0 ? simS / wall : 0.0)
       << ",\"standalone\":" << (fixed.empty() ? "false" : "true")
       << ",\"rlc_traces\":" << (tracesOk ? "true" : "false")
       << ",\"traced_bearers\":" << tracedBearers << ",\"status\":\""
       << (code == 0 ? "ok" : "error") << "\"";
    if (code != 0)
        js << ",\"error\":\"" << xrmarl::JsonEscape(bridge->Failed() ? bridge->Failure() : "episode did not finish") << "\"";
    js << ",\"mean_kpis\":{";
    for (uint32_t i = 0; i < nUe; ++i)
    {
        js << (i ? "," : "") << "\"" << users[i].id << "\":{";
        for (uint32_t j = 0; j < kNumKpis; ++j)
            js << (j ? "," : "") << "\"" << kKpiNames[j]
               << "\":" << Num(lastStep > 0 ? sums[i][j] / lastStep : 0.0);
        const Vector pos = users[i].node->GetObject<MobilityModel>()->GetPosition();
        js << ",\"start_distance_m\":" << Num(users[i].startDistance)
           << ",\"end_distance_m\":" << Num(std::hypot(pos.x, pos.y));
        js << ",\"sent\":" << users[i].monitor->TotalSent()
           << ",\"received\":" << users[i].monitor->TotalReceived()
           << ",\"rlc_in_bytes\":" << users[i].rlc->m_inBytes
           << ",\"rlc_drop_bytes\":" << users[i].rlc->m_dropBytes
           << ",\"rlc_out_bytes\":" << users[i].rlc->m_outBytes
           << ",\"rlc_out_pdus\":" << users[i].rlc->m_outPdus << "}";
    }
    js << "}}}";
    std::cout << js.str() << std::endl;
    if (code != 0)
        std::cerr << "xr-codec: " << (bridge->Failed() ? bridge->Failure() : "episode did not finish")
                  << std::endl;
    bridge->Dispose();
    Simulator::Destroy();
    g_rlcByRnti.clear();
    return code;
}
