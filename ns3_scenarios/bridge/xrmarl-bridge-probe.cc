/*
 * xrmarl-bridge-probe: speaks the xr-codec-marl bridge protocol with synthetic observations,
 * without ns-3. Used by the wire round-trip tests (C++ <-> Python), the bridge-overhead
 * benchmark (with a raw ZeroMQ REQ/REP mode as the physical floor), and the server's
 * bad-input tests (modes that misbehave on purpose). See ns3_scenarios/README.md.
 *
 * Prints one JSON object on stdout at the end (and, with --print-steps, one JSON line per
 * step before it). Exit codes: 0 ok, 1 usage, 2 protocol error, 3 timeout, 4 invalid action,
 * 9 (mode die: killed itself on purpose), 130 signal.
 */
#include "xrmarl-wire.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace xrmarl;

namespace
{

const char* kUsage = R"(usage: xrmarl-bridge-probe [--option=value ...]

  --endpoint=EP        agent server (tcp://HOST:PORT or ipc://PATH) [tcp://127.0.0.1:5555]
  --mode=M             episode      handshake + steps with synthetic values (default)
                       raw          raw ZeroMQ REQ client: --steps round trips of --payload-bytes
                                    (a REP echo server is expected; the physical floor)
                       garbage      send undecodable bytes, report the reply
                       wrong-type   send an Action before any Hello, report the reply
                       empty        send an Envelope without a body, report the reply
                       bad-version  Hello with protocol version 999, report the reply
                       bad-shape    handshake, then a Step whose kpis have the wrong length
                       die          handshake + --die-after steps, then _exit(9) without Goodbye
                       silent       handshake, then stay silent for --silent-ms and exit
  --steps=N            windows per episode (episode limit) [40]
  --episodes=E         episodes, each a fresh socket and handshake [1]
  --agents=N           agents (AR, VR, CG, A3, ...) [3]
  --n-actions=K        actions per agent [10]
  --obs-size=O         observation size per agent [5]; 0 = send no obs
  --state-size=S       state size [15]; 0 = send no state
  --kpis=K             KPIs per agent [9] (xr-codec's XR_KPI_NAMES when 9)
  --with-rewards       also send a 3-component reward vector
  --agent-rewards      also send per-agent rewards (needs --with-rewards)
  --global-kpis=G      announce G global KPIs (g0, g1, ...) and send them every step [0]
  --hybrid             announce hybrid action spaces (overrides --n-actions): every agent has
                       heads server (n=3, labels local/edge/cloud) x level (n=2, values
                       0.5/1, ordered) = 6 joint actions; continuous dimensions by agent
                       index mod 3: 0: offload [0, 1] and power [-10, 23] dBm, 1: offload,
                       2: none. Received continuous values are validated and reported.
  --timeout-ms=T       receive timeout [5000]
  --step-interval=S    step interval announced, seconds [0.5]
  --seed=S             seed announced in Hello [1]
  --identity=ID        ZeroMQ routing id [sim-<pid>-<random>]
  --die-after=N        mode die: steps before dying [3]
  --silent-ms=T        mode silent: how long to stay silent [60000]
  --payload-bytes=B    mode raw: request size [size of this run's Step envelope]
  --print-steps        one JSON line per step (actions received) on stdout
  --help

Synthetic values of step t (exact in float32), agent a, index j:
  obs[a*O+j] = t + 0.5*a + 0.0625*j      state[j] = -(t + 0.125*j)
  kpis[a*K+k] = t + 0.25*a + 0.03125*k   rewards = [0.5*t, 1, -0.25]
  global_kpis[g] = t + 0.5*g             agent_rewards[a*3+c] = 0.25*t + a + 0.125*c
  avail_actions all true; sim_time_s = t * step_interval; last step: truncated=true,
  truncation_reason="episode_limit".
)";

struct Options
{
    std::string endpoint{kDefaultEndpoint};
    std::string mode{"episode"};
    uint32_t steps{40};
    uint32_t episodes{1};
    uint32_t agents{3};
    uint32_t nActions{10};
    uint32_t obsSize{5};
    uint32_t stateSize{15};
    uint32_t kpis{9};
    bool withRewards{false};
    bool agentRewards{false};
    bool hybrid{false};
    uint32_t globalKpis{0};
    int timeoutMs{5000};
    double stepInterval{0.5};
    uint64_t seed{1};
    std::string identity;
    uint32_t dieAfter{3};
    int silentMs{60000};
    long payloadBytes{-1};
    bool printSteps{false};
};

[[noreturn]] void
UsageError(const std::string& msg)
{
    std::cerr << "xrmarl-bridge-probe: error: " << msg << "\n(see --help)\n";
    std::exit(EXIT_USAGE);
}

uint64_t
ParseUint(const std::string& key, const std::string& v)
{
    try
    {
        size_t pos = 0;
        if (v.empty() || v[0] == '-')
        {
            throw std::invalid_argument("negative");
        }
        const unsigned long long x = std::stoull(v, &pos);
        if (pos != v.size())
        {
            throw std::invalid_argument("trailing");
        }
        return x;
    }
    catch (const std::exception&)
    {
        UsageError("--" + key + " needs a non-negative integer, got '" + v + "'");
    }
}

Options
Parse(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i)
    {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h")
        {
            std::cout << kUsage;
            std::exit(0);
        }
        if (arg.rfind("--", 0) != 0)
        {
            UsageError("unexpected argument '" + arg + "'");
        }
        std::string key = arg.substr(2);
        std::string val;
        const auto eq = key.find('=');
        bool hasVal = eq != std::string::npos;
        if (hasVal)
        {
            val = key.substr(eq + 1);
            key = key.substr(0, eq);
        }
        if (key == "with-rewards" || key == "print-steps" || key == "agent-rewards" ||
            key == "hybrid")
        {
            (key == "with-rewards"    ? o.withRewards
             : key == "print-steps"   ? o.printSteps
             : key == "agent-rewards" ? o.agentRewards
                                      : o.hybrid) = true;
            continue;
        }
        if (!hasVal)
        {
            if (i + 1 >= argc)
            {
                UsageError("--" + key + " needs a value");
            }
            val = argv[++i];
        }
        if (key == "endpoint")
            o.endpoint = val;
        else if (key == "mode")
            o.mode = val;
        else if (key == "steps")
            o.steps = ParseUint(key, val);
        else if (key == "episodes")
            o.episodes = ParseUint(key, val);
        else if (key == "agents")
            o.agents = ParseUint(key, val);
        else if (key == "n-actions")
            o.nActions = ParseUint(key, val);
        else if (key == "obs-size")
            o.obsSize = ParseUint(key, val);
        else if (key == "state-size")
            o.stateSize = ParseUint(key, val);
        else if (key == "kpis")
            o.kpis = ParseUint(key, val);
        else if (key == "global-kpis")
            o.globalKpis = ParseUint(key, val);
        else if (key == "timeout-ms")
            o.timeoutMs = static_cast<int>(ParseUint(key, val));
        else if (key == "step-interval")
        {
            try
            {
                o.stepInterval = std::stod(val);
            }
            catch (const std::exception&)
            {
                UsageError("--step-interval needs a number, got '" + val + "'");
            }
            if (!(o.stepInterval > 0))
                UsageError("--step-interval must be > 0");
        }
        else if (key == "seed")
            o.seed = ParseUint(key, val);
        else if (key == "identity")
            o.identity = val;
        else if (key == "die-after")
            o.dieAfter = ParseUint(key, val);
        else if (key == "silent-ms")
            o.silentMs = static_cast<int>(ParseUint(key, val));
        else if (key == "payload-bytes")
            o.payloadBytes = static_cast<long>(ParseUint(key, val));
        else
            UsageError("unknown option --" + key);
    }
    static const char* modes[] = {"episode", "raw", "garbage", "wrong-type", "empty",
                                  "bad-version", "bad-shape", "die", "silent"};
    if (std::find(std::begin(modes), std::end(modes), o.mode) == std::end(modes))
    {
        UsageError("unknown mode '" + o.mode +
                   "'; allowed: episode, raw, garbage, wrong-type, empty, bad-version, "
                   "bad-shape, die, silent");
    }
    if (o.agents == 0 || o.nActions == 0 || o.steps == 0 || o.episodes == 0 || o.timeoutMs <= 0)
    {
        UsageError("--agents, --n-actions, --steps, --episodes and --timeout-ms must be > 0");
    }
    if (o.agentRewards && !o.withRewards)
    {
        UsageError("--agent-rewards needs --with-rewards (the reward components)");
    }
    if (o.hybrid)
    {
        o.nActions = 6; // server x level
    }
    const std::string bad = CheckEndpoint(o.endpoint);
    if (!bad.empty())
    {
        UsageError(bad);
    }
    return o;
}

const char* kXrKpiNames[] = {"delay_ms",        "jitter_ms", "pdr",          "plr",
                             "throughput_mbps", "xqi",       "buffer_ratio", "codec_rate_mbps",
                             "sinr_db"};

v1::Hello
MakeHello(const Options& o)
{
    v1::Hello h;
    h.set_protocol_version(kProtocolVersion);
    h.set_scenario("probe");
    h.set_seed(o.seed);
    h.set_run(0);
    static const char* ids[] = {"AR", "VR", "CG"};
    for (uint32_t a = 0; a < o.agents; ++a)
    {
        auto* ag = h.add_agents();
        ag->set_id(a < 3 ? ids[a] : "A" + std::to_string(a));
        ag->set_kind(a == 2 ? "cg" : "xr");
        ag->set_obs_size(o.obsSize);
        if (o.hybrid)
        {
            AddActionHead(*ag, "server", 3, {}, false, {"local", "edge", "cloud"});
            AddActionHead(*ag, "level", 2, {0.5, 1.0}, true);
            if (a % 3 <= 1)
            {
                AddContinuousDim(*ag, "offload", 0.0, 1.0);
            }
            if (a % 3 == 0)
            {
                AddContinuousDim(*ag, "power", -10.0, 23.0, "dBm");
            }
            continue;
        }
        ag->set_n_actions(o.nActions);
        for (uint32_t k = 0; k < o.nActions; ++k)
        {
            ag->add_action_values(1.0 + k);
        }
    }
    h.set_state_size(o.stateSize);
    if (o.withRewards)
    {
        for (const char* c : {"delay", "pdr", "drr"})
        {
            h.add_reward_components(c);
        }
    }
    for (uint32_t k = 0; k < o.kpis; ++k)
    {
        h.add_kpi_names(o.kpis == 9 ? kXrKpiNames[k] : "kpi" + std::to_string(k));
    }
    for (uint32_t g = 0; g < o.globalKpis; ++g)
    {
        h.add_global_kpi_names("g" + std::to_string(g));
    }
    h.set_step_interval_s(o.stepInterval);
    h.set_episode_limit(o.steps);
    (*h.mutable_parameters())["probe"] = "1";
    return h;
}

v1::Step
MakeStep(const Options& o, uint64_t t)
{
    v1::Step s;
    s.set_step_index(t);
    s.set_sim_time_s(static_cast<double>(t) * o.stepInterval);
    for (uint32_t a = 0; a < o.agents; ++a)
    {
        for (uint32_t j = 0; j < o.obsSize; ++j)
        {
            s.add_obs(static_cast<float>(t + 0.5 * a + 0.0625 * j));
        }
    }
    for (uint32_t j = 0; j < o.stateSize; ++j)
    {
        s.add_state(static_cast<float>(-(t + 0.125 * j)));
    }
    for (uint32_t i = 0; i < o.agents * o.nActions; ++i)
    {
        s.add_avail_actions(true);
    }
    if (o.withRewards)
    {
        s.add_rewards(static_cast<float>(0.5 * t));
        s.add_rewards(1.0f);
        s.add_rewards(-0.25f);
    }
    for (uint32_t a = 0; a < o.agents; ++a)
    {
        for (uint32_t k = 0; k < o.kpis; ++k)
        {
            s.add_kpis(static_cast<float>(t + 0.25 * a + 0.03125 * k));
        }
    }
    for (uint32_t g = 0; g < o.globalKpis; ++g)
    {
        s.add_global_kpis(static_cast<float>(t + 0.5 * g));
    }
    if (o.agentRewards)
    {
        for (uint32_t a = 0; a < o.agents; ++a)
        {
            for (uint32_t c = 0; c < 3; ++c)
            {
                s.add_agent_rewards(static_cast<float>(0.25 * t + a + 0.125 * c));
            }
        }
    }
    if (t >= o.steps)
    {
        s.set_truncated(true);
        s.set_truncation_reason("episode_limit");
    }
    return s;
}

struct Stats
{
    std::vector<double> rttUs;
    double wallS{0};

    std::string Json() const
    {
        std::vector<double> v = rttUs;
        std::sort(v.begin(), v.end());
        auto pct = [&](double q) {
            if (v.empty())
                return 0.0;
            size_t i = static_cast<size_t>(std::ceil(q * v.size())) - 1;
            return v[std::min(i, v.size() - 1)];
        };
        double mean = 0;
        for (double x : v)
            mean += x;
        mean = v.empty() ? 0 : mean / v.size();
        std::ostringstream os;
        os.precision(6);
        os << "\"round_trips\":" << v.size() << ",\"wall_s\":" << wallS
           << ",\"steps_per_s\":" << (wallS > 0 ? v.size() / wallS : 0.0)
           << ",\"rtt_us\":{\"median\":" << pct(0.5) << ",\"p99\":" << pct(0.99)
           << ",\"mean\":" << mean << ",\"max\":" << (v.empty() ? 0 : v.back()) << "}";
        return os.str();
    }
};

using Clock = std::chrono::steady_clock;

double
Us(Clock::duration d)
{
    return std::chrono::duration<double, std::micro>(d).count();
}

void
PrintResult(const Options& o, const std::string& status, const std::string& body)
{
    std::cout << "{\"probe\":\"xrmarl-bridge-probe\",\"mode\":\"" << o.mode << "\",\"endpoint\":\""
              << JsonEscape(o.endpoint) << "\",\"status\":\"" << status << "\""
              << (body.empty() ? "" : ",") << body << "}" << std::endl;
}

int
ExitFor(const WireError& e)
{
    if (Interrupted())
        return EXIT_INTERRUPTED;
    switch (e.Code())
    {
    case v1::Error::CODE_TIMEOUT:
        return EXIT_TIMEOUT;
    case v1::Error::CODE_ACTION:
        return EXIT_BAD_ACTION;
    default:
        return EXIT_PROTOCOL;
    }
}

std::string
ErrorJson(const WireError& e)
{
    return "\"code\":\"" + v1::Error::Code_Name(e.Code()) + "\",\"message\":\"" +
           JsonEscape(e.what()) + "\"";
}

// ------------------------------------------------------------------------------ modes

/// A JSON array of doubles that reads back exactly.
std::string
JsonDoubles(const std::vector<double>& v)
{
    std::ostringstream os;
    os.precision(17);
    os << "[";
    for (size_t i = 0; i < v.size(); ++i)
    {
        os << (i ? "," : "") << v[i];
    }
    os << "]";
    return os.str();
}

int
RunEpisodes(const Options& o)
{
    Stats stats;
    std::string lastActions;
    std::string lastContinuous;
    std::string closeReason;
    size_t payload = 0;
    const auto t0 = Clock::now();
    for (uint32_t ep = 0; ep < o.episodes; ++ep)
    {
        WireSession session(o.endpoint, o.timeoutMs,
                            o.identity.empty() ? "" : o.identity + "-" + std::to_string(ep));
        try
        {
            v1::Hello hello = MakeHello(o);
            hello.set_seed(o.seed + ep);
            session.Handshake(hello);
            for (uint64_t t = 0; t <= o.steps; ++t)
            {
                v1::Step step = MakeStep(o, t);
                if (o.mode == "die" && t == o.dieAfter)
                {
                    std::cout << "{\"probe\":\"xrmarl-bridge-probe\",\"mode\":\"die\",\"status\":"
                                 "\"dying\",\"step\":"
                              << t << "}" << std::endl;
                    std::_Exit(9);
                }
                if (o.mode == "bad-shape" && t == 1)
                {
                    step.add_kpis(42.0f); // one KPI too many
                }
                if (t == 0)
                {
                    v1::Envelope env;
                    *env.mutable_step() = step;
                    env.mutable_step()->set_session_id(session.SessionId());
                    payload = env.ByteSizeLong();
                }
                const auto s = Clock::now();
                std::vector<uint32_t> actions = session.Exchange(step);
                stats.rttUs.push_back(Us(Clock::now() - s));
                std::ostringstream as;
                as << "[";
                for (size_t i = 0; i < actions.size(); ++i)
                    as << (i ? "," : "") << actions[i];
                as << "]";
                const std::string cont = JsonDoubles(session.LastContinuous());
                if (!actions.empty())
                {
                    lastActions = as.str();
                    lastContinuous = cont;
                }
                if (o.printSteps)
                {
                    std::cout << "{\"episode\":" << ep << ",\"step\":" << t
                              << ",\"actions\":" << as.str();
                    if (o.hybrid)
                    {
                        std::cout << ",\"continuous\":" << (actions.empty() ? "[]" : cont);
                    }
                    std::cout << "}\n";
                }
                if (o.mode == "silent" && t == 0)
                {
                    std::this_thread::sleep_for(std::chrono::milliseconds(o.silentMs));
                    session.Goodbye("probe silent mode over");
                    PrintResult(o, "ok", "\"silent_ms\":" + std::to_string(o.silentMs));
                    return EXIT_OK;
                }
            }
            closeReason = session.CloseReason();
            session.Goodbye("episode over");
        }
        catch (const WireError& e)
        {
            session.Goodbye(std::string("probe error: ") + e.what());
            std::cerr << "xrmarl-bridge-probe: " << e.what() << std::endl;
            PrintResult(o, "error", ErrorJson(e) + ",\"episode\":" + std::to_string(ep));
            return ExitFor(e);
        }
    }
    stats.wallS = std::chrono::duration<double>(Clock::now() - t0).count();
    PrintResult(o,
                "ok",
                "\"episodes\":" + std::to_string(o.episodes) + ",\"steps\":" +
                    std::to_string(o.steps) + ",\"payload_bytes\":" + std::to_string(payload) +
                    ",\"last_actions\":" + (lastActions.empty() ? "null" : lastActions) +
                    ",\"last_continuous\":" +
                    (lastContinuous.empty() ? "null" : lastContinuous) +
                    ",\"close_reason\":\"" + JsonEscape(closeReason) + "\"," + stats.Json());
    return EXIT_OK;
}

int
RunRaw(const Options& o)
{
    size_t payload = o.payloadBytes;
    if (o.payloadBytes < 0)
    {
        v1::Envelope env;
        *env.mutable_step() = MakeStep(o, 1);
        env.mutable_step()->set_session_id("0123456789abcdef");
        payload = env.ByteSizeLong();
    }
    std::string req(payload, 'x');
    zmq::context_t ctx(1);
    zmq::socket_t sock(ctx, zmq::socket_type::req);
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::sndtimeo, o.timeoutMs);
    sock.set(zmq::sockopt::rcvtimeo, o.timeoutMs);
    sock.connect(o.endpoint);
    Stats stats;
    const auto t0 = Clock::now();
    for (uint32_t i = 0; i < o.steps * o.episodes; ++i)
    {
        const auto s = Clock::now();
        zmq::message_t rep;
        if (!sock.send(zmq::buffer(req), zmq::send_flags::none) ||
            !sock.recv(rep, zmq::recv_flags::none))
        {
            std::cerr << "xrmarl-bridge-probe: raw REQ/REP: no reply within " << o.timeoutMs
                      << " ms" << std::endl;
            PrintResult(o, "error", "\"code\":\"CODE_TIMEOUT\",\"message\":\"no reply\"");
            return EXIT_TIMEOUT;
        }
        stats.rttUs.push_back(Us(Clock::now() - s));
    }
    stats.wallS = std::chrono::duration<double>(Clock::now() - t0).count();
    PrintResult(o, "ok", "\"payload_bytes\":" + std::to_string(payload) + "," + stats.Json());
    return EXIT_OK;
}

/// Send one bad first message and report what the server answered.
int
RunFirstMessage(const Options& o)
{
    WireChannel ch(o.endpoint, o.identity);
    std::string bytes;
    if (o.mode == "garbage")
    {
        // field 1, length-delimited, with an impossible length: never parses
        bytes = std::string("\x0a\xff\xff\xff\xff\x0fgarbage-from-probe", 24);
    }
    else
    {
        v1::Envelope env;
        if (o.mode == "wrong-type")
        {
            auto* a = env.mutable_action();
            a->set_step_index(0);
            a->add_actions(0);
        }
        else if (o.mode == "bad-version")
        {
            *env.mutable_hello() = MakeHello(o);
            env.mutable_hello()->set_protocol_version(999);
        }
        // mode empty: an envelope without a body (serializes to zero bytes; send one
        // unknown field so the frame is not empty)
        env.SerializeToString(&bytes);
        if (o.mode == "empty")
        {
            bytes = std::string("\xf8\x07\x01", 3); // unknown field 127 (varint 1)
        }
    }
    ch.SendRaw(bytes, o.timeoutMs);
    v1::Envelope reply;
    try
    {
        reply = ch.Receive(o.timeoutMs);
    }
    catch (const WireError& e)
    {
        std::cerr << "xrmarl-bridge-probe: " << e.what() << std::endl;
        PrintResult(o, e.Code() == v1::Error::CODE_TIMEOUT ? "timeout" : "error", ErrorJson(e));
        return ExitFor(e);
    }
    std::string body = "\"reply\":\"" + BodyName(reply) + "\"";
    if (reply.has_error())
    {
        body += ",\"code\":\"" + v1::Error::Code_Name(reply.error().code()) + "\",\"message\":\"" +
                JsonEscape(reply.error().message()) + "\",\"fatal\":" +
                (reply.error().fatal() ? "true" : "false");
    }
    // Refused as expected: ok. Anything else: the server accepted bad input.
    const bool refused = reply.has_error();
    PrintResult(o, refused ? "refused" : "accepted", body);
    return refused ? EXIT_OK : EXIT_PROTOCOL;
}

} // namespace

int
main(int argc, char** argv)
{
    GOOGLE_PROTOBUF_VERIFY_VERSION;
    const Options o = Parse(argc, argv);
    InstallSignalHandlers();
    try
    {
        if (o.mode == "raw")
            return RunRaw(o);
        if (o.mode == "garbage" || o.mode == "wrong-type" || o.mode == "empty" ||
            o.mode == "bad-version")
            return RunFirstMessage(o);
        return RunEpisodes(o);
    }
    catch (const WireError& e)
    {
        std::cerr << "xrmarl-bridge-probe: " << e.what() << std::endl;
        PrintResult(o, "error", ErrorJson(e));
        return ExitFor(e);
    }
    catch (const std::exception& e)
    {
        std::cerr << "xrmarl-bridge-probe: " << e.what() << std::endl;
        return EXIT_PROTOCOL;
    }
}
