/*
 * xr-codec-marl wire layer: the simulator's end of the ZeroMQ/protobuf bridge, without ns-3.
 *
 * One ZeroMQ DEALER socket connected to the agent server's ROUTER (tcp://host:port or
 * ipc://path). Each message is ONE frame holding a serialized xrmarl.v1.Envelope (no empty
 * delimiter frame; empty frames in a reply are skipped). Every receive has a timeout.
 * Shared by the ns-3 bridge client and the ns-3-free probe.
 */
#ifndef XRMARL_WIRE_H
#define XRMARL_WIRE_H

#include "xrmarl/v1/bridge.pb.h"

#include <zmq.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace xrmarl
{

/// The protocol version this build speaks (xrmarl.v1.PROTOCOL_VERSION_CURRENT).
constexpr uint32_t kProtocolVersion = v1::PROTOCOL_VERSION_CURRENT;

/// Default endpoint of the agent server.
constexpr const char* kDefaultEndpoint = "tcp://127.0.0.1:5555";

/// A failure of the dialogue, with the protocol error code that describes it.
class WireError : public std::runtime_error
{
  public:
    WireError(v1::Error::Code code, const std::string& what)
        : std::runtime_error(what),
          m_code(code)
    {
    }

    v1::Error::Code Code() const
    {
        return m_code;
    }

  private:
    v1::Error::Code m_code;
};

/// Exit codes shared by the scenarios and the probe.
enum ExitCode : int
{
    EXIT_OK = 0,
    EXIT_USAGE = 1,         ///< bad command line
    EXIT_PROTOCOL = 2,      ///< server sent an Error, a wrong message, or garbage
    EXIT_TIMEOUT = 3,       ///< server silent past the timeout
    EXIT_BAD_ACTION = 4,    ///< server's Action failed validation
    EXIT_INTERRUPTED = 130, ///< SIGINT/SIGTERM
};

/// Check that a string is a ZeroMQ endpoint we support (tcp://host:port or ipc://path).
/// Returns an empty string when fine, else the reason.
std::string CheckEndpoint(const std::string& endpoint);

/// Install SIGINT/SIGTERM handlers that only set a flag (see Interrupted()).
void InstallSignalHandlers();
/// True once SIGINT or SIGTERM was received.
bool Interrupted();

/**
 * The simulator's DEALER socket. Not thread-safe; one per process.
 */
class WireChannel
{
  public:
    /// Connect (lazily: ZeroMQ connects in the background) to the endpoint.
    /// identity: ZeroMQ routing id; empty = "sim-<pid>-<random>".
    WireChannel(const std::string& endpoint, const std::string& identity = "");
    ~WireChannel();

    /// Serialize and send one envelope (throws WireError on failure or send timeout).
    void Send(const v1::Envelope& env, int timeoutMs);
    /// Send raw bytes as one frame (used by the probe's misbehaving modes).
    void SendRaw(const std::string& bytes, int timeoutMs);
    /// Receive one envelope within timeoutMs (throws WireError CODE_TIMEOUT / CODE_BAD_MESSAGE).
    v1::Envelope Receive(int timeoutMs);
    /// Receive one raw frame (non-empty) within timeoutMs; false on timeout.
    bool ReceiveRaw(std::string& out, int timeoutMs);

    const std::string& Identity() const
    {
        return m_identity;
    }

    const std::string& Endpoint() const
    {
        return m_endpoint;
    }

  private:
    zmq::context_t m_ctx;
    zmq::socket_t m_sock;
    std::string m_endpoint;
    std::string m_identity;
};

/// Escape a string for a JSON string literal.
std::string JsonEscape(const std::string& s);

/// Name of the envelope's body ("hello", "step", ..., "empty").
std::string BodyName(const v1::Envelope& env);

/// Validate an Action against the handshake: n actions, each < nActions[i].
/// Returns an empty string when valid, else a clear reason. (Discrete only: continuous
/// values are not looked at; see the ActionLayout overload.)
std::string ValidateAction(const v1::Action& action,
                           uint64_t expectedStep,
                           const std::vector<uint32_t>& nActions);

/// Bounds of one continuous action dimension.
struct ContinuousBounds
{
    double low{0};
    double high{0};
};

/// What every Action of a session must match, fixed by the Hello.
struct ActionLayout
{
    std::vector<uint32_t> nActions;                        ///< per agent: joint discrete index size
    std::vector<std::vector<ContinuousBounds>> continuous; ///< per agent: its own dimensions
    uint32_t continuousDims{0}; ///< D: most dimensions of any agent (0: all discrete)
};

/// The action layout a Hello announces.
ActionLayout MakeActionLayout(const v1::Hello& hello);

/// Validate an Action against the handshake: one index per agent, each < nActions[i], and
/// n_agents * D continuous values (none when D == 0), each agent's own ones finite and within
/// their [low, high] (the padding columns beyond them are ignored).
/// Returns an empty string when valid, else a clear reason.
std::string ValidateAction(const v1::Action& action,
                           uint64_t expectedStep,
                           const ActionLayout& layout);

/// Hybrid action spaces: append a categorical head to an agent (n_actions becomes the
/// product of its heads' sizes) ...
v1::ActionHead* AddActionHead(v1::AgentInfo& agent,
                              const std::string& name,
                              uint32_t n,
                              const std::vector<double>& values = {},
                              bool ordered = false,
                              const std::vector<std::string>& labels = {});
/// ... or a bounded continuous dimension (an agent without heads gets n_actions = 1).
v1::ContinuousDim* AddContinuousDim(v1::AgentInfo& agent,
                                    const std::string& name,
                                    double low,
                                    double high,
                                    const std::string& unit = "");

/**
 * The simulator's side of the dialogue on top of a WireChannel: handshake, steps, goodbye.
 * Throws WireError on every failure (timeout, Error/Close from the server, wrong message,
 * invalid action); the caller decides how to exit.
 */
class WireSession
{
  public:
    WireSession(const std::string& endpoint, int timeoutMs, const std::string& identity = "");

    /// Send Hello, wait for Welcome (Error -> WireError CODE_VERSION/...). Returns session id.
    std::string Handshake(const v1::Hello& hello);

    /// Send a Step (session id and nothing else filled in here) and wait for the reply.
    /// Non-terminal steps: returns the validated action vector (its continuous values, if
    /// the hello announced any, in LastContinuous()).
    /// Terminal steps: waits for Close (an Action is also accepted); returns empty.
    std::vector<uint32_t> Exchange(v1::Step& step);

    /// Continuous values of the last Action: n_agents * ContinuousDims(), row-major by agent
    /// (empty when every agent is discrete, or before the first action).
    const std::vector<double>& LastContinuous() const
    {
        return m_lastContinuous;
    }

    /// D: the most continuous dimensions of any agent, as the hello announced.
    uint32_t ContinuousDims() const
    {
        return m_layout.continuousDims;
    }

    /// Send Goodbye (best effort, never throws). Sent at most once.
    void Goodbye(const std::string& reason);

    const std::string& SessionId() const
    {
        return m_sessionId;
    }

    /// Reason of the server's Close, if any.
    const std::string& CloseReason() const
    {
        return m_closeReason;
    }

    WireChannel& Channel()
    {
        return m_channel;
    }

    int TimeoutMs() const
    {
        return m_timeoutMs;
    }

  private:
    WireChannel m_channel;
    int m_timeoutMs;
    std::string m_sessionId;
    std::string m_closeReason;
    ActionLayout m_layout;
    std::vector<double> m_lastContinuous;
    bool m_saidGoodbye{false};
    bool m_welcomed{false};
};

} // namespace xrmarl

#endif // XRMARL_WIRE_H
