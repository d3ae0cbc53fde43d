/*
 * xr-codec-marl wire layer (see xrmarl-wire.h).
 */
#include "xrmarl-wire.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <chrono>
#include <csignal>
#include <random>
#include <sstream>
#include <unistd.h>

namespace xrmarl
{

namespace
{
std::atomic<bool> g_interrupted{false};

void
OnSignal(int)
{
    g_interrupted.store(true);
}

using Clock = std::chrono::steady_clock;
} // namespace

void
InstallSignalHandlers()
{
    struct sigaction sa{};
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking poll returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

bool
Interrupted()
{
    return g_interrupted.load();
}

std::string
CheckEndpoint(const std::string& endpoint)
{
    if (endpoint.rfind("tcp://", 0) == 0)
    {
        const std::string rest = endpoint.substr(6);
        const auto colon = rest.rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 >= rest.size())
        {
            return "tcp endpoint must be tcp://HOST:PORT, got '" + endpoint + "'";
        }
        const std::string port = rest.substr(colon + 1);
        for (char c : port)
        {
            if (c < '0' || c > '9')
            {
                return "tcp endpoint port must be a number, got '" + endpoint + "'";
            }
        }
        const long p = std::stol(port);
        if (p < 1 || p > 65535)
        {
            return "tcp endpoint port must be in 1..65535, got '" + endpoint + "'";
        }
        return "";
    }
    if (endpoint.rfind("ipc://", 0) == 0)
    {
        return endpoint.size() > 6 ? "" : "ipc endpoint needs a path, got '" + endpoint + "'";
    }
    return "endpoint must be tcp://HOST:PORT or ipc://PATH, got '" + endpoint + "'";
}

// ---------------------------------------------------------------------------- WireChannel

WireChannel::WireChannel(const std::string& endpoint, const std::string& identity)
    : m_ctx(1),
      m_sock(m_ctx, zmq::socket_type::dealer),
      m_endpoint(endpoint),
      m_identity(identity)
{
    const std::string bad = CheckEndpoint(endpoint);
    if (!bad.empty())
    {
        throw WireError(v1::Error::CODE_UNSPECIFIED, bad);
    }
    if (m_identity.empty())
    {
        std::random_device rd;
        std::ostringstream os;
        os << "sim-" << ::getpid() << "-" << std::hex << (rd() & 0xffffff);
        m_identity = os.str();
    }
    m_sock.set(zmq::sockopt::routing_id, m_identity);
    m_sock.set(zmq::sockopt::linger, 200); // let a final Goodbye leave, but never block exit
    try
    {
        m_sock.connect(endpoint);
    }
    catch (const zmq::error_t& e)
    {
        throw WireError(v1::Error::CODE_UNSPECIFIED,
                        "cannot connect to '" + endpoint + "': " + e.what());
    }
}

WireChannel::~WireChannel()
{
    try
    {
        m_sock.close();
        m_ctx.close();
    }
    catch (...)
    {
    }
}

void
WireChannel::SendRaw(const std::string& bytes, int timeoutMs)
{
    m_sock.set(zmq::sockopt::sndtimeo, timeoutMs);
    try
    {
        auto sent = m_sock.send(zmq::buffer(bytes), zmq::send_flags::none);
        if (!sent)
        {
            throw WireError(v1::Error::CODE_TIMEOUT,
                            "send to " + m_endpoint + " timed out after " +
                                std::to_string(timeoutMs) + " ms");
        }
    }
    catch (const zmq::error_t& e)
    {
        throw WireError(v1::Error::CODE_INTERNAL, std::string("zmq send failed: ") + e.what());
    }
}

void
WireChannel::Send(const v1::Envelope& env, int timeoutMs)
{
    std::string bytes;
    if (!env.SerializeToString(&bytes))
    {
        throw WireError(v1::Error::CODE_INTERNAL, "cannot serialize " + BodyName(env));
    }
    SendRaw(bytes, timeoutMs);
}

bool
WireChannel::ReceiveRaw(std::string& out, int timeoutMs)
{
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    while (true)
    {
        if (Interrupted())
        {
            throw WireError(v1::Error::CODE_UNSPECIFIED, "interrupted by a signal");
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - Clock::now());
        if (left.count() <= 0)
        {
            return false;
        }
        zmq::pollitem_t items[] = {{m_sock.handle(), 0, ZMQ_POLLIN, 0}};
        try
        {
            // poll in slices so a signal is noticed even if poll restarts
            zmq::poll(items, 1, std::min<std::chrono::milliseconds>(left, std::chrono::milliseconds(200)));
        }
        catch (const zmq::error_t& e)
        {
            if (e.num() == EINTR)
            {
                continue;
            }
            throw WireError(v1::Error::CODE_INTERNAL, std::string("zmq poll failed: ") + e.what());
        }
        if (!(items[0].revents & ZMQ_POLLIN))
        {
            continue;
        }
        // read one whole multipart message; keep the last non-empty frame
        std::string body;
        bool more = true;
        while (more)
        {
            zmq::message_t msg;
            auto got = m_sock.recv(msg, zmq::recv_flags::dontwait);
            if (!got)
            {
                break;
            }
            if (msg.size() > 0)
            {
                body.assign(static_cast<const char*>(msg.data()), msg.size());
            }
            more = msg.more();
        }
        if (body.empty())
        {
            continue; // delimiter-only message: ignore
        }
        out.swap(body);
        return true;
    }
}

v1::Envelope
WireChannel::Receive(int timeoutMs)
{
    std::string bytes;
    if (!ReceiveRaw(bytes, timeoutMs))
    {
        throw WireError(v1::Error::CODE_TIMEOUT,
                        "no reply from the agent server at " + m_endpoint + " within " +
                            std::to_string(timeoutMs) + " ms");
    }
    v1::Envelope env;
    if (!env.ParseFromString(bytes))
    {
        throw WireError(v1::Error::CODE_BAD_MESSAGE,
                        "undecodable reply (" + std::to_string(bytes.size()) +
                            " bytes) from the agent server");
    }
    if (env.body_case() == v1::Envelope::BODY_NOT_SET)
    {
        throw WireError(v1::Error::CODE_BAD_MESSAGE, "reply envelope without a body");
    }
    return env;
}

// ---------------------------------------------------------------------------- helpers

std::string
JsonEscape(const std::string& s)
{
    std::string out;
    for (unsigned char c : s)
    {
        if (c == '"' || c == '\\')
        {
            out += '\\';
            out += static_cast<char>(c);
        }
        else if (c < 0x20)
        {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        }
        else
        {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string
BodyName(const v1::Envelope& env)
{
    switch (env.body_case())
    {
    case v1::Envelope::kHello:
        return "hello";
    case v1::Envelope::kWelcome:
        return "welcome";
    case v1::Envelope::kStep:
        return "step";
    case v1::Envelope::kAction:
        return "action";
    case v1::Envelope::kError:
        return "error";
    case v1::Envelope::kClose:
        return "close";
    case v1::Envelope::kGoodbye:
        return "goodbye";
    default:
        return "empty";
    }
}

std::string
ValidateAction(const v1::Action& action, uint64_t expectedStep, const std::vector<uint32_t>& nActions)
{
    std::ostringstream os;
    if (action.step_index() != expectedStep)
    {
        os << "action answers step " << action.step_index() << ", expected step " << expectedStep;
        return os.str();
    }
    if (static_cast<size_t>(action.actions_size()) != nActions.size())
    {
        os << "action vector has " << action.actions_size() << " entries, expected "
           << nActions.size() << " (one per agent)";
        return os.str();
    }
    for (size_t i = 0; i < nActions.size(); ++i)
    {
        if (action.actions(static_cast<int>(i)) >= nActions[i])
        {
            os << "action of agent " << i << " is " << action.actions(static_cast<int>(i))
               << ", outside [0, " << nActions[i] - 1 << "]";
            return os.str();
        }
    }
    return "";
}

ActionLayout
MakeActionLayout(const v1::Hello& hello)
{
    ActionLayout layout;
    for (const auto& a : hello.agents())
    {
        layout.nActions.push_back(a.n_actions());
        std::vector<ContinuousBounds> dims;
        for (const auto& c : a.continuous())
        {
            dims.push_back({c.low(), c.high()});
        }
        layout.continuousDims =
            std::max<uint32_t>(layout.continuousDims, static_cast<uint32_t>(dims.size()));
        layout.continuous.push_back(std::move(dims));
    }
    return layout;
}

std::string
ValidateAction(const v1::Action& action, uint64_t expectedStep, const ActionLayout& layout)
{
    std::string bad = ValidateAction(action, expectedStep, layout.nActions);
    if (!bad.empty())
    {
        return bad;
    }
    std::ostringstream os;
    const size_t d = layout.continuousDims;
    const size_t want = layout.nActions.size() * d;
    if (static_cast<size_t>(action.continuous_size()) != want)
    {
        os << "action has " << action.continuous_size() << " continuous values, expected "
           << want << " (" << layout.nActions.size() << " agents x " << d << " dimensions)";
        return os.str();
    }
    for (size_t i = 0; i < layout.continuous.size(); ++i)
    {
        const auto& dims = layout.continuous[i];
        for (size_t j = 0; j < dims.size(); ++j)
        {
            const double v = action.continuous(static_cast<int>(i * d + j));
            if (!std::isfinite(v) || v < dims[j].low || v > dims[j].high)
            {
                os.precision(17);
                os << "continuous value " << v << " of agent " << i << " dimension " << j
                   << " is not within [" << dims[j].low << ", " << dims[j].high << "]";
                return os.str();
            }
        }
    }
    return "";
}

v1::ActionHead*
AddActionHead(v1::AgentInfo& agent,
              const std::string& name,
              uint32_t n,
              const std::vector<double>& values,
              bool ordered,
              const std::vector<std::string>& labels)
{
    auto* h = agent.add_heads();
    h->set_name(name);
    h->set_n(n);
    h->mutable_values()->Assign(values.begin(), values.end());
    h->set_ordered(ordered);
    for (const auto& l : labels)
    {
        h->add_labels(l);
    }
    uint64_t joint = 1;
    for (const auto& x : agent.heads())
    {
        joint *= x.n();
    }
    agent.set_n_actions(static_cast<uint32_t>(joint));
    return h;
}

v1::ContinuousDim*
AddContinuousDim(v1::AgentInfo& agent,
                 const std::string& name,
                 double low,
                 double high,
                 const std::string& unit)
{
    auto* c = agent.add_continuous();
    c->set_name(name);
    c->set_low(low);
    c->set_high(high);
    c->set_unit(unit);
    if (agent.heads_size() == 0)
    {
        agent.set_n_actions(1);
    }
    return c;
}

namespace
{
[[noreturn]] void
ThrowServerError(const v1::Error& err, const std::string& when)
{
    std::string code = v1::Error::Code_Name(err.code());
    throw WireError(err.code(),
                    "agent server refused " + when + ": " + code + ": " + err.message());
}

void
SendError(WireChannel& ch, v1::Error::Code code, const std::string& message, int timeoutMs)
{
    v1::Envelope env;
    auto* e = env.mutable_error();
    e->set_code(code);
    e->set_message(message);
    e->set_fatal(true);
    try
    {
        ch.Send(env, timeoutMs);
    }
    catch (...)
    {
    }
}
} // namespace

// ---------------------------------------------------------------------------- WireSession

WireSession::WireSession(const std::string& endpoint, int timeoutMs, const std::string& identity)
    : m_channel(endpoint, identity),
      m_timeoutMs(timeoutMs)
{
}

std::string
WireSession::Handshake(const v1::Hello& hello)
{
    m_layout = MakeActionLayout(hello);
    m_lastContinuous.clear();
    v1::Envelope env;
    *env.mutable_hello() = hello;
    m_channel.Send(env, m_timeoutMs);
    v1::Envelope reply = m_channel.Receive(m_timeoutMs);
    switch (reply.body_case())
    {
    case v1::Envelope::kWelcome:
        if (reply.welcome().protocol_version() != 0 &&
            reply.welcome().protocol_version() != kProtocolVersion)
        {
            throw WireError(v1::Error::CODE_VERSION,
                            "server welcomed us with protocol version " +
                                std::to_string(reply.welcome().protocol_version()) +
                                ", this simulator speaks " + std::to_string(kProtocolVersion));
        }
        m_sessionId = reply.welcome().session_id();
        m_welcomed = true;
        return m_sessionId;
    case v1::Envelope::kError:
        ThrowServerError(reply.error(), "the handshake");
    case v1::Envelope::kClose:
        m_closeReason = reply.close().reason();
        throw WireError(v1::Error::CODE_UNEXPECTED,
                        "agent server closed the session during the handshake: " +
                            reply.close().reason());
    default:
        SendError(m_channel, v1::Error::CODE_UNEXPECTED,
                  "expected welcome or error, got " + BodyName(reply), m_timeoutMs);
        throw WireError(v1::Error::CODE_UNEXPECTED,
                        "expected welcome or error after hello, got " + BodyName(reply));
    }
}

std::vector<uint32_t>
WireSession::Exchange(v1::Step& step)
{
    step.set_session_id(m_sessionId);
    const bool terminal = step.terminated() || step.truncated();
    v1::Envelope env;
    *env.mutable_step() = step;
    m_channel.Send(env, m_timeoutMs);
    v1::Envelope reply = m_channel.Receive(m_timeoutMs);
    const std::string when = "step " + std::to_string(step.step_index());
    switch (reply.body_case())
    {
    case v1::Envelope::kAction: {
        if (terminal)
        {
            return {};
        }
        const std::string bad = ValidateAction(reply.action(), step.step_index(), m_layout);
        if (!bad.empty())
        {
            SendError(m_channel, v1::Error::CODE_ACTION, bad, m_timeoutMs);
            throw WireError(v1::Error::CODE_ACTION, "invalid action at " + when + ": " + bad);
        }
        m_lastContinuous.assign(reply.action().continuous().begin(),
                                reply.action().continuous().end());
        return {reply.action().actions().begin(), reply.action().actions().end()};
    }
    case v1::Envelope::kClose:
        m_closeReason = reply.close().reason();
        if (terminal)
        {
            return {};
        }
        throw WireError(v1::Error::CODE_UNEXPECTED,
                        "agent server closed the session at " + when + ": " +
                            reply.close().reason());
    case v1::Envelope::kError:
        ThrowServerError(reply.error(), when);
    default:
        SendError(m_channel, v1::Error::CODE_UNEXPECTED,
                  "expected action, close or error, got " + BodyName(reply), m_timeoutMs);
        throw WireError(v1::Error::CODE_UNEXPECTED,
                        "expected action/close/error at " + when + ", got " + BodyName(reply));
    }
}

void
WireSession::Goodbye(const std::string& reason)
{
    if (m_saidGoodbye)
    {
        return;
    }
    m_saidGoodbye = true;
    v1::Envelope env;
    auto* g = env.mutable_goodbye();
    g->set_session_id(m_sessionId);
    g->set_reason(reason);
    try
    {
        m_channel.Send(env, std::min(m_timeoutMs, 1000));
    }
    catch (...)
    {
    }
}

} // namespace xrmarl
