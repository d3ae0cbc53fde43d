/*
 * XR traffic and window KPIs (see xr-traffic.h).
 */
#include "xr-traffic.h"

#include "ns3/double.h"
#include "ns3/inet-socket-address.h"
#include "ns3/log.h"
#include "ns3/node.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/udp-socket-factory.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrTraffic");
NS_OBJECT_ENSURE_REGISTERED(XrFlowHeader);
NS_OBJECT_ENSURE_REGISTERED(XrSender);
NS_OBJECT_ENSURE_REGISTERED(XrUeMonitor);

// ------------------------------------------------------------------------------ XrFlowHeader

TypeId
XrFlowHeader::GetTypeId()
{
    static TypeId tid = TypeId("ns3::XrFlowHeader")
                            .SetParent<Header>()
                            .SetGroupName("XrMarl")
                            .AddConstructor<XrFlowHeader>();
    return tid;
}

TypeId
XrFlowHeader::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
XrFlowHeader::GetSerializedSize() const
{
    return 24;
}

void
XrFlowHeader::Serialize(Buffer::Iterator i) const
{
    i.WriteHtonU32(m_flow);
    i.WriteHtonU32(m_seq);
    i.WriteHtonU32(m_frame);
    i.WriteHtonU32(m_pad);
    i.WriteHtonU64(static_cast<uint64_t>(m_txTimeNs));
}

uint32_t
XrFlowHeader::Deserialize(Buffer::Iterator i)
{
    m_flow = i.ReadNtohU32();
    m_seq = i.ReadNtohU32();
    m_frame = i.ReadNtohU32();
    m_pad = i.ReadNtohU32();
    m_txTimeNs = static_cast<int64_t>(i.ReadNtohU64());
    return GetSerializedSize();
}

void
XrFlowHeader::Print(std::ostream& os) const
{
    os << "flow=" << m_flow << " seq=" << m_seq << " frame=" << m_frame
       << " tx=" << m_txTimeNs << "ns";
}

// ------------------------------------------------------------------------------ XrSender

TypeId
XrSender::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::XrSender")
            .SetParent<Application>()
            .SetGroupName("XrMarl")
            .AddConstructor<XrSender>()
            .AddAttribute("Remote",
                          "Destination (InetSocketAddress of the UE)",
                          AddressValue(),
                          MakeAddressAccessor(&XrSender::m_remote),
                          MakeAddressChecker())
            .AddAttribute("RateMbps",
                          "Codec data rate (Mbps); frame size mean = rate / fps",
                          DoubleValue(10.0),
                          MakeDoubleAccessor(&XrSender::m_rateMbps),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("Fps",
                          "Frames per second",
                          DoubleValue(60.0),
                          MakeDoubleAccessor(&XrSender::m_fps),
                          MakeDoubleChecker<double>(1e-3))
            .AddAttribute("SizeStdFrac",
                          "Frame size standard deviation as a fraction of the mean (TR 38.838: 0.105)",
                          DoubleValue(0.105),
                          MakeDoubleAccessor(&XrSender::m_sizeStdFrac),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("SizeMinFrac",
                          "Lower truncation of the frame size, fraction of the mean",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&XrSender::m_sizeMinFrac),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("SizeMaxFrac",
                          "Upper truncation of the frame size, fraction of the mean",
                          DoubleValue(1.5),
                          MakeDoubleAccessor(&XrSender::m_sizeMaxFrac),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("JitterStdMs",
                          "Frame arrival jitter standard deviation (ms)",
                          DoubleValue(2.0),
                          MakeDoubleAccessor(&XrSender::m_jitterStdMs),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("JitterBoundMs",
                          "Frame arrival jitter bound (ms, symmetric)",
                          DoubleValue(4.0),
                          MakeDoubleAccessor(&XrSender::m_jitterBoundMs),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("PacingMs",
                          "Spread the packets of a frame evenly over this time (0: one burst)",
                          DoubleValue(0.0),
                          MakeDoubleAccessor(&XrSender::m_pacingMs),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("PacketSize",
                          "UDP payload per packet, header included (1472 = 1500-byte IP MTU)",
                          UintegerValue(1472),
                          MakeUintegerAccessor(&XrSender::m_packetSize),
                          MakeUintegerChecker<uint32_t>(64, 65000))
            .AddAttribute("FlowId",
                          "Flow index within the UE (0 video, 1 audio, 2 pose)",
                          UintegerValue(0),
                          MakeUintegerAccessor(&XrSender::m_flowId),
                          MakeUintegerChecker<uint32_t>());
    return tid;
}

XrSender::XrSender()
    : m_sizeRv(CreateObject<NormalRandomVariable>()),
      m_jitterRv(CreateObject<NormalRandomVariable>())
{
    NS_LOG_FUNCTION(this);
}

XrSender::~XrSender()
{
    NS_LOG_FUNCTION(this);
}

void
XrSender::DoDispose()
{
    m_socket = nullptr;
    m_monitor = nullptr;
    Application::DoDispose();
}

int64_t
XrSender::AssignStreams(int64_t stream)
{
    m_sizeRv->SetStream(stream);
    m_jitterRv->SetStream(stream + 1);
    return 2;
}

void
XrSender::SetRateMbps(double rateMbps)
{
    NS_LOG_FUNCTION(this << rateMbps);
    m_rateMbps = rateMbps;
}

double
XrSender::GetRateMbps() const
{
    return m_rateMbps;
}

void
XrSender::SetMonitor(Ptr<XrUeMonitor> monitor)
{
    m_monitor = monitor;
}

void
XrSender::StartApplication()
{
    NS_LOG_FUNCTION(this);
    m_socket = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
    m_socket->Bind();
    m_socket->Connect(m_remote);
    m_nextNominal = Simulator::Now();
    NextFrame();
}

void
XrSender::StopApplication()
{
    m_frameEvent.Cancel();
    if (m_socket)
    {
        m_socket->Close();
    }
}

void
XrSender::NextFrame()
{
    // the frame due at m_nextNominal, displaced by its jitter
    Time at = m_nextNominal;
    if (m_jitterStdMs > 0)
    {
        m_jitterRv->SetAttribute("Mean", DoubleValue(0.0));
        m_jitterRv->SetAttribute("Variance", DoubleValue(m_jitterStdMs * m_jitterStdMs));
        m_jitterRv->SetAttribute("Bound", DoubleValue(m_jitterBoundMs));
        at += MicroSeconds(static_cast<int64_t>(std::llround(m_jitterRv->GetValue() * 1000.0)));
    }
    const Time delay = std::max(Time(0), at - Simulator::Now());
    Simulator::Schedule(delay, &XrSender::SendFrame, this);
    m_nextNominal += Seconds(1.0 / m_fps);
    // the next frame is drawn no later than its earliest possible jittered time
    Time next = m_nextNominal - MilliSeconds(m_jitterBoundMs) - Simulator::Now();
    m_frameEvent = Simulator::Schedule(std::max(Time(0), next), &XrSender::NextFrame, this);
}

void
XrSender::SendFrame()
{
    // the size is drawn when the frame leaves, so a rate set at a window boundary applies
    // to every frame sent after it
    const double mean = m_rateMbps * 1e6 / 8.0 / m_fps;
    double size = mean;
    if (m_sizeStdFrac > 0 && mean > 0)
    {
        // truncated Gaussian: redraw until inside [min, max] of the mean
        for (int tries = 0; tries < 100; ++tries)
        {
            size = mean + m_sizeRv->GetValue() * m_sizeStdFrac * mean;
            if (size >= m_sizeMinFrac * mean && size <= m_sizeMaxFrac * mean)
            {
                break;
            }
            size = mean;
        }
    }
    const uint32_t bytes = static_cast<uint32_t>(std::max(0.0, std::round(size)));
    const uint32_t hdr = XrFlowHeader().GetSerializedSize();
    const uint32_t frameId = m_frame++;
    std::vector<uint32_t> sizes;
    uint32_t left = bytes;
    while (left > 0)
    {
        uint32_t s = std::min(left, m_packetSize);
        left -= s;
        sizes.push_back(std::max(s, hdr));
    }
    const Time gap = sizes.size() > 1 ? MicroSeconds(static_cast<int64_t>(
                                            m_pacingMs * 1000.0 / sizes.size()))
                                      : Time(0);
    for (size_t k = 0; k < sizes.size(); ++k)
    {
        if (gap.IsZero() || k == 0)
        {
            SendPacket(sizes[k], frameId);
        }
        else
        {
            Simulator::Schedule(gap * static_cast<int64_t>(k),
                                &XrSender::SendPacket,
                                this,
                                sizes[k],
                                frameId);
        }
    }
}

void
XrSender::SendPacket(uint32_t size, uint32_t frameId)
{
    XrFlowHeader h;
    h.m_flow = m_flowId;
    h.m_seq = m_seq++;
    h.m_frame = frameId;
    h.m_txTimeNs = Simulator::Now().GetNanoSeconds();
    Ptr<Packet> p = Create<Packet>(size - h.GetSerializedSize());
    p->AddHeader(h);
    if (m_monitor)
    {
        m_monitor->OnSent(m_flowId, h.m_seq, size, Simulator::Now());
    }
    m_socket->Send(p);
}

// ------------------------------------------------------------------------------ XrUeMonitor

TypeId
XrUeMonitor::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::XrUeMonitor")
            .SetParent<Object>()
            .SetGroupName("XrMarl")
            .AddConstructor<XrUeMonitor>()
            .AddAttribute("LossDeadline",
                          "A packet not received within this time of being sent counts as lost; "
                          "a window's PDR covers the packets whose deadline expired in it",
                          TimeValue(MilliSeconds(100)),
                          MakeTimeAccessor(&XrUeMonitor::m_deadline),
                          MakeTimeChecker(MilliSeconds(1)));
    return tid;
}

XrUeMonitor::XrUeMonitor()
{
}

void
XrUeMonitor::DoDispose()
{
    if (m_socket)
    {
        m_socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
        m_socket->Close();
    }
    m_socket = nullptr;
    Object::DoDispose();
}

void
XrUeMonitor::SetFlowCount(uint32_t n)
{
    m_flows.resize(n);
}

void
XrUeMonitor::Listen(Ptr<Node> node, uint16_t port)
{
    m_socket = Socket::CreateSocket(node, UdpSocketFactory::GetTypeId());
    m_socket->Bind(InetSocketAddress(Ipv4Address::GetAny(), port));
    m_socket->SetRecvCallback(MakeCallback(&XrUeMonitor::Receive, this));
}

void
XrUeMonitor::OnSent(uint32_t flow, uint32_t seq, uint32_t bytes, Time when)
{
    NS_ASSERT(flow < m_flows.size());
    FlowState& f = m_flows[flow];
    if (f.pending.empty())
    {
        f.baseSeq = seq;
    }
    NS_ASSERT(seq == f.baseSeq + f.pending.size());
    f.pending.push_back({when, false});
    ++m_totalSent;
}

void
XrUeMonitor::Receive(Ptr<Socket> socket)
{
    Ptr<Packet> p;
    while ((p = socket->Recv()))
    {
        XrFlowHeader h;
        if (p->GetSize() < h.GetSerializedSize())
        {
            continue;
        }
        p->PeekHeader(h);
        if (h.m_flow >= m_flows.size())
        {
            continue;
        }
        const Time now = Simulator::Now();
        const Time delay = now - NanoSeconds(h.m_txTimeNs);
        const double dMs = delay.GetSeconds() * 1000.0;
        FlowState& f = m_flows[h.m_flow];
        // PDR: delivered if within the deadline and its fate is still pending
        if (delay <= m_deadline && h.m_seq >= f.baseSeq && h.m_seq - f.baseSeq < f.pending.size())
        {
            f.pending[h.m_seq - f.baseSeq].delivered = true;
        }
        ++m_rxCount;
        ++m_totalReceived;
        m_rxBytes += p->GetSize();
        m_delaySumMs += dMs;
        if (f.haveLast)
        {
            m_jitterSumMs += std::abs(dMs - f.lastDelayMs);
            ++m_jitterPairs;
        }
        f.haveLast = true;
        f.lastDelayMs = dMs;
    }
}

double
XrUeMonitor::Xqi(double pdr, double delayMs)
{
    if (pdr >= 0.99 && delayMs <= 7.0)
        return 5;
    if (pdr >= 0.99 && delayMs <= 10.0)
        return 4;
    if (pdr >= 0.95 && delayMs <= 13.0)
        return 3;
    if (pdr >= 0.95 && delayMs <= 20.0)
        return 2;
    return 1;
}

XrUeMonitor::Window
XrUeMonitor::CloseWindow(Time windowLength)
{
    Window w;
    const Time now = Simulator::Now();
    for (auto& f : m_flows)
    {
        while (!f.pending.empty() && f.pending.front().sent + m_deadline <= now)
        {
            ++w.decided;
            w.delivered += f.pending.front().delivered ? 1 : 0;
            f.pending.pop_front();
            ++f.baseSeq;
        }
    }
    w.pdr = w.decided > 0 ? static_cast<double>(w.delivered) / w.decided : 1.0;
    w.plr = 1.0 - w.pdr;
    w.received = m_rxCount;
    // nothing received: the delay is at least the loss deadline
    w.delayMs = m_rxCount > 0 ? m_delaySumMs / m_rxCount : m_deadline.GetSeconds() * 1000.0;
    w.jitterMs = m_jitterPairs > 0 ? m_jitterSumMs / m_jitterPairs : 0.0;
    w.throughputMbps = m_rxBytes * 8.0 / windowLength.GetSeconds() / 1e6;
    w.xqi = Xqi(w.pdr, w.delayMs);
    m_rxCount = 0;
    m_rxBytes = 0;
    m_delaySumMs = 0;
    m_jitterSumMs = 0;
    m_jitterPairs = 0;
    return w;
}

} // namespace ns3
