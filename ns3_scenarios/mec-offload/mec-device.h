/*
 * MecDevice: an IoT device (one UE) that generates compute tasks and runs or offloads them.
 *
 * Tasks arrive as a Poisson process (rate x the load-peak multiplier) with data size, cycles,
 * deadline, priority and memory drawn uniformly in the settings' ranges, and wait in a small
 * decision buffer (more are rejected). At each decision step the agent's action takes the
 * buffer's head task (oldest, or by the seed-001 priority score) and
 *  - runs it locally: a FIFO CPU at FLocalHz with LocalSlots slots, energy kappa f^2 c; or
 *  - offloads a fraction alpha to server k at a transmit power: alpha of the data goes up the
 *    real uplink as UDP packets carrying a MecTaskHeader (the UE's transmit power is set for
 *    it), the rest runs locally at the same time. The server acknowledges a whole upload
 *    (ACCEPTED, stamped with the upload's end) or refuses it (REJECTED), and later sends the
 *    result back over the downlink. Transmit energy = power x the upload's own air time.
 * A task completes when its local part has run and its result has arrived (response time =
 * completion - creation, measured from packets); it is dropped when its result has not come
 * TaskTimeout after its deadline (a failed server, lost packets) or, with DropLate, at its
 * deadline, or at once when its server fails; it is rejected when the server refuses it. Every event goes to the shared
 * MecTally; the device's AoI is now - creation of its newest completed task.
 */
#ifndef XRMARL_MEC_DEVICE_H
#define XRMARL_MEC_DEVICE_H

#include "mec-tally.h"
#include "mec-task-header.h"

#include "ns3/application.h"
#include "ns3/event-id.h"
#include "ns3/inet-socket-address.h"
#include "ns3/random-variable-stream.h"
#include "ns3/socket.h"

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ns3
{

/// Task, device and load parameters (the flags of mec-offload; SI units).
struct MecDeviceConfig
{
    double arrivalRate{1.0}; ///< tasks per second
    std::array<double, 2> bits{0.16e6, 5e6};
    std::array<double, 2> cyclesPerBit{200, 2000};
    std::array<double, 2> deadline{0.5, 2.0};
    std::array<double, 2> priority{0.5, 1.0};
    std::array<double, 2> memoryGb{0.01, 0.5};
    uint32_t agentBuffer{4};
    std::string prioritisation{"none"}; ///< none, deadline, resource, sla, combined
    std::array<double, 3> priorityWeights{0.4, 0.3, 0.3};
    bool dropLate{false};
    double fLocalHz{1e9};
    double kappa{1e-27};
    uint32_t localSlots{8};
    std::vector<double> txPowersDbm{10, 23};
    std::vector<double> fractions{0.25, 0.5, 0.75, 1.0};
    double outageRateBps{1e6};
    uint32_t packetBytes{1400}; ///< UDP payload per upload packet, header included
    uint32_t resultBytes{1000}; ///< result sent back per task
    double taskTimeout{1.0};    ///< s after the deadline a missing result drops the task
    double uplinkGuessBps{10e6}; ///< uplink rate assumed before any upload was measured
    std::string variant{"stable"};
    double peakMultiplier{3.0};
    double peakPeriod{4.0};
    double peakDuration{1.0};
    uint16_t port{5000}; ///< the device's UDP port (results come back to it)
};

/// What every device shares: the tally, the servers, and per-server upload counts.
struct MecShared
{
    MecTally* tally{nullptr};
    std::vector<InetSocketAddress> servers;
    std::vector<uint32_t> uploadsActive; ///< uploads in progress per server
    Time start;                          ///< the time of step 0 (load peaks count from it)
};

class MecDevice : public Application
{
  public:
    static TypeId GetTypeId();
    MecDevice();
    ~MecDevice() override;

    /// What the agent sees of this device now (the raw per-device values, see raw.py).
    struct View
    {
        bool has{false};
        double bits{0}, cycles{0}, priority{0}, memoryGb{0}, slack{0};
        double localWait{0}, uplinkWait{0};
        bool localFull{false};
        double aoi{0};
    };

    /// Configure before the simulation starts. `setTxPower` sets the UE's power (dBm).
    void Setup(uint32_t index,
               const MecDeviceConfig& cfg,
               MecShared* shared,
               std::function<void(double)> setTxPower);
    /// Use streams from `stream` on (4 of them); returns how many.
    int64_t AssignStreams(int64_t stream);

    /// Decide the head task: action 0 = local, else 1 + (k F + f) P + p (see actions.py).
    void Decide(uint32_t action);
    /**
     * Decide the head task with a hybrid action (actions.py decode_hybrid): target head 0 =
     * local, k + 1 = server k; `alpha` the offloaded fraction (clipped to [0, 1]) and
     * `powerDbm` the transmit power (clipped to the txPowers' range). With the CPU queue full
     * a server head offloads all of the task (a partial one needs a local slot); a server
     * head with alpha 0 runs the task locally. Both values must be finite.
     */
    void DecideHybrid(uint32_t head, double alpha, double powerDbm);
    /// Drop tasks that waited past their deadline (the end of a step).
    void ExpireWaiting();
    /// Server k failed: the tasks it held or was receiving from this device are lost (the
    /// device learns it at once, as from the edge's failure notice; dropped, as the twin's).
    void ServerFailed(uint32_t k);
    View Observe() const;
    /// Tasks decided and of them offloaded since the last call (then zeroed).
    std::pair<uint32_t, uint32_t> TakeDecisionCounts();
    uint32_t Waiting() const
    {
        return static_cast<uint32_t>(m_buffer.size());
    }
    /// Bytes this device sent up (upload packets, headers included).
    uint64_t BytesSent() const
    {
        return m_bytesSent;
    }
    /// AoI starts counting here (the time of step 0).
    void StartAoi(Time t);

  protected:
    void DoDispose() override;

  private:
    struct Task
    {
        uint32_t id{0};
        double created{0}, deadline{0}, priority{0}, bits{0}, cycles{0}, memoryGb{0};
    };

    /// A decided task until it resolves.
    struct Flight
    {
        Task task;
        double alpha{0};
        int server{-1}; ///< -1: local only
        double powerW{0};
        bool holdsSlot{false};
        bool localDone{true};
        bool remoteDone{true};
        bool uploading{false}; ///< sent, neither accepted nor refused yet
        double uploadStart{0};
        uint32_t uploadBytes{0};
        uint32_t resultGot{0};
        EventId timeout;
        EventId late;
    };

    /// Decide the head task: run (1 - alpha) of it locally and offload alpha of it to
    /// `server` (-1: none) at powerDbm.
    void DecideTask(int server, double alpha, double powerDbm);
    void StartApplication() override;
    void StopApplication() override;
    void NextArrival();
    void Arrive();
    /// Index in m_buffer of the task to decide next (-1: none).
    int Head() const;
    void StartLocal(Flight& f, double cycles);
    void OnLocalDone(uint32_t id);
    void SendUpload(Flight& f);
    void HandleRead(Ptr<Socket> socket);
    void OnAccepted(Flight& f, const MecTaskHeader& h);
    void OnRefused(Flight& f, const MecTaskHeader& h);
    void EndUpload(Flight& f, double end, bool accepted);
    void OnResult(Flight& f);
    void TryComplete(uint32_t id);
    void Resolve(uint32_t id, char how);
    double Now() const;
    uint32_t SlotsInUse() const;

    uint32_t m_index{0};
    MecDeviceConfig m_cfg;
    MecShared* m_shared{nullptr};
    std::function<void(double)> m_setTxPower;
    Ptr<Socket> m_socket;
    Ptr<ExponentialRandomVariable> m_gap;
    Ptr<UniformRandomVariable> m_uniform;
    Ptr<UniformRandomVariable> m_thin;
    EventId m_nextArrival;
    uint32_t m_nextId{1};
    std::deque<Task> m_buffer;
    std::map<uint32_t, Flight> m_flights;
    double m_localFree{0};   ///< when the CPU has done what it was given
    double m_uplinkEnd{0};   ///< when the last acknowledged upload ended
    double m_uplinkRate{0};  ///< bits/s of recent uploads (EWMA)
    double m_newest{0};      ///< creation time of the newest completed task
    uint32_t m_decisions{0};
    uint32_t m_offloads{0};
    uint64_t m_bytesSent{0};
};

} // namespace ns3

#endif // XRMARL_MEC_DEVICE_H
