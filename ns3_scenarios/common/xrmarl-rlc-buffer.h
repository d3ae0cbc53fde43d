/*
 * RLC transmit-buffer occupancy at the base station, per UE, for scenarios whose KPIs need
 * it (ns-3's LteRlcUm has no getter for its buffer).
 *
 *  - XrMarlRlcBufferTracker: one UE's occupancy, integrated over time from PDCP TxPDU
 *    (bytes in), RLC TxDrop (bytes refused) and RLC TxPDU (bytes out) events.
 *  - XrMarlRlcBufferTraces: connects the base station's PDCP/RLC trace sources to the
 *    trackers of the UEs (by RNTI), once the radio bearers exist. One instance per
 *    scenario; no global state.
 */
#ifndef XRMARL_RLC_BUFFER_H
#define XRMARL_RLC_BUFFER_H

#include "xrmarl-ran.h"

#include "ns3/net-device.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/packet.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

/// RLC transmit-buffer occupancy of one UE's bearers at the base station, over time.
class XrMarlRlcBufferTracker : public Object
{
  public:
    static TypeId GetTypeId();
    XrMarlRlcBufferTracker();

    void SetCapacity(uint32_t bytes);
    void OnPdcpTx(uint32_t bytes);  ///< a PDCP PDU entered the RLC (or was refused, see drop)
    void OnRlcDrop(uint32_t bytes); ///< RLC refused an SDU (buffer full)
    void OnRlcTx(uint32_t bytes);   ///< RLC sent a PDU of this size (header included)
    /// Time-averaged occupancy ratio since the last call; starts a new window.
    double CloseWindow();

    double Occupancy() const
    {
        return m_occ;
    }

    uint64_t m_inBytes{0};   ///< total PDCP PDU bytes offered to the RLC
    uint64_t m_dropBytes{0}; ///< total bytes refused by the RLC
    uint64_t m_outBytes{0};  ///< total RLC PDU bytes sent (headers included)
    uint64_t m_outPdus{0};   ///< RLC PDUs sent

  private:
    void Advance();

    uint32_t m_capacity{60000};
    uint32_t m_headerBytes;
    double m_occ{0};
    double m_area{0}; ///< byte-seconds since the window started
    Time m_last;
    Time m_windowStart;
};

/**
 * Feeds the trackers of a scenario's UEs from the base station's traces.
 *
 * The traces can only be connected once every UE's radio bearers exist, which happens some
 * time into the simulation: Start(t0, n) polls from t0/2 every 5 ms, connects as soon as n
 * data radio bearers exist, or at t0 with whatever exists (and says so). Events reach the
 * tracker of the UE whose RNTI they carry. The object must outlive Simulator::Run().
 * Events are matched by RNTI alone, and RNTIs are unique per cell only: it is meant for
 * scenarios with one base station.
 */
class XrMarlRlcBufferTraces
{
  public:
    explicit XrMarlRlcBufferTraces(const XrMarlRan& ran);

    /// Follow this UE's bearers with this tracker.
    void Add(Ptr<NetDevice> ueDev, Ptr<XrMarlRlcBufferTracker> tracker);
    /// Schedule the connection (see the class comment); `expectedBearers` data radio
    /// bearers in all (e.g. 2 per UE: default + dedicated).
    void Start(Time t0, uint32_t expectedBearers);

    /// True once the trace sources were connected.
    bool Connected() const
    {
        return m_connected;
    }

    /// How many data radio bearers existed when they were connected.
    uint32_t TracedBearers() const
    {
        return m_tracedBearers;
    }

  private:
    void TryConnect();
    Ptr<XrMarlRlcBufferTracker> Find(uint16_t rnti) const;
    void OnPdcpTx(std::string ctx, uint16_t rnti, uint8_t lcid, uint32_t size);
    void OnRlcTx(std::string ctx, uint16_t rnti, uint8_t lcid, uint32_t size);
    void OnRlcDrop(std::string ctx, Ptr<const Packet> p);

    XrMarlRan m_ran; ///< a copy: RNTIs and trace paths
    std::vector<std::pair<Ptr<NetDevice>, Ptr<XrMarlRlcBufferTracker>>> m_ues;
    std::map<uint16_t, Ptr<XrMarlRlcBufferTracker>> m_byRnti;
    Time m_t0;
    uint32_t m_expected{0};
    bool m_connected{false};
    uint32_t m_tracedBearers{0};
};

} // namespace ns3

#endif // XRMARL_RLC_BUFFER_H
