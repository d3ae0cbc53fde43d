/*
 * XR traffic per 3GPP TR 38.838 and the per-window KPIs measured from the received packets.
 *
 *  - XrFlowHeader: flow id, sequence number, frame id, transmit timestamp (24 bytes).
 *  - XrSender: an Application sending frames at Fps with a truncated-Gaussian size around
 *    Rate/Fps (std SizeStdFrac, truncated to [SizeMinFrac, SizeMaxFrac] of the mean) and a
 *    truncated-Gaussian arrival jitter (JitterStdMs, bounded +-JitterBoundMs), each frame
 *    split into PacketSize-byte UDP payloads. The codec rate can be changed at run time
 *    (SetRateMbps); it applies from the next frame. With SizeStdFrac = 0 and JitterStdMs = 0
 *    it is a constant periodic flow (AR audio and pose).
 *  - XrUeMonitor: one per UE; receives that UE's flows and turns one window into KPIs.
 *
 * (The RLC transmit-buffer tracker is common/xrmarl-rlc-buffer.h's XrMarlRlcBufferTracker.)
 */
#ifndef XR_TRAFFIC_H
#define XR_TRAFFIC_H

#include "ns3/address.h"
#include "ns3/application.h"
#include "ns3/event-id.h"
#include "ns3/header.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/ptr.h"
#include "ns3/random-variable-stream.h"
#include "ns3/socket.h"

#include <deque>
#include <vector>

namespace ns3
{

class XrUeMonitor;

/// Header on every XR packet (before the payload padding).
class XrFlowHeader : public Header
{
  public:
    static TypeId GetTypeId();
    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(Buffer::Iterator start) const override;
    uint32_t Deserialize(Buffer::Iterator start) override;
    void Print(std::ostream& os) const override;

    uint32_t m_flow{0};    ///< flow index within the UE (0 video, 1 audio, 2 pose)
    uint32_t m_seq{0};     ///< packet sequence number within the flow
    uint32_t m_frame{0};   ///< frame number within the flow
    uint32_t m_pad{0};     ///< reserved
    int64_t m_txTimeNs{0}; ///< transmit time (ns of simulated time)
};

/// Frame-based XR sender (TR 38.838).
class XrSender : public Application
{
  public:
    static TypeId GetTypeId();
    XrSender();
    ~XrSender() override;

    /// Change the codec rate (Mbps) from the next frame on.
    void SetRateMbps(double rateMbps);
    double GetRateMbps() const;
    /// Record every packet sent with this monitor (the receiving UE's).
    void SetMonitor(Ptr<XrUeMonitor> monitor);
    int64_t AssignStreams(int64_t stream);

  protected:
    void DoDispose() override;

  private:
    void StartApplication() override;
    void StopApplication() override;
    void NextFrame();
    void SendFrame();
    void SendPacket(uint32_t size, uint32_t frameId);

    Address m_remote;
    double m_rateMbps;
    double m_fps;
    double m_sizeStdFrac;
    double m_sizeMinFrac;
    double m_sizeMaxFrac;
    double m_jitterStdMs;
    double m_jitterBoundMs;
    double m_pacingMs;
    uint32_t m_packetSize;
    uint32_t m_flowId;

    Ptr<Socket> m_socket;
    Ptr<XrUeMonitor> m_monitor;
    Ptr<NormalRandomVariable> m_sizeRv;
    Ptr<NormalRandomVariable> m_jitterRv;
    Time m_nextNominal;
    uint32_t m_seq{0};
    uint32_t m_frame{0};
    EventId m_frameEvent;
};

/// One UE's receiving side: a UDP socket for all its flows and the window KPIs.
class XrUeMonitor : public Object
{
  public:
    static TypeId GetTypeId();
    XrUeMonitor();

    /// Receive on this node and UDP port.
    void Listen(Ptr<Node> node, uint16_t port);
    void SetFlowCount(uint32_t n);

    void OnSent(uint32_t flow, uint32_t seq, uint32_t bytes, Time when);

    /// KPIs of the window ending now (XR_KPI_NAMES order except buffer ratio and codec rate,
    /// which the scenario fills in): delay_ms, jitter_ms, pdr, plr, throughput_mbps, xqi.
    struct Window
    {
        double delayMs{0};
        double jitterMs{0};
        double pdr{1};
        double plr{0};
        double throughputMbps{0};
        double xqi{1};
        uint64_t received{0};
        uint64_t decided{0};  ///< packets whose fate was decided in this window
        uint64_t delivered{0};
    };

    Window CloseWindow(Time windowLength);

    /// Totals since the start (for the run summary).
    uint64_t TotalSent() const
    {
        return m_totalSent;
    }

    uint64_t TotalReceived() const
    {
        return m_totalReceived;
    }

    static double Xqi(double pdr, double delayMs);

  protected:
    void DoDispose() override;

  private:
    void Receive(Ptr<Socket> socket);

    struct SentPacket
    {
        Time sent;
        bool delivered;
    };

    struct FlowState
    {
        std::deque<SentPacket> pending; ///< sent, fate not yet decided
        uint32_t baseSeq{0};            ///< seq of pending.front()
        bool haveLast{false};
        double lastDelayMs{0};
    };

    Time m_deadline;
    Ptr<Socket> m_socket;
    std::vector<FlowState> m_flows;
    // receive-time window accumulators
    uint64_t m_rxCount{0};
    uint64_t m_rxBytes{0};
    double m_delaySumMs{0};
    double m_jitterSumMs{0};
    uint64_t m_jitterPairs{0};
    uint64_t m_totalSent{0};
    uint64_t m_totalReceived{0};
};

} // namespace ns3

#endif // XR_TRAFFIC_H
