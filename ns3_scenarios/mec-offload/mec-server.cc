#include "mec-server.h"

#include "ns3/abort.h"
#include "ns3/double.h"
#include "ns3/inet-socket-address.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/trace-source-accessor.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("MecServer");
NS_OBJECT_ENSURE_REGISTERED(MecServer);

TypeId
MecServer::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::MecServer")
            .SetParent<Application>()
            .SetGroupName("XrMarl")
            .AddConstructor<MecServer>()
            .AddAttribute("Port", "UDP port the tasks arrive on", UintegerValue(9000),
                          MakeUintegerAccessor(&MecServer::m_port),
                          MakeUintegerChecker<uint16_t>())
            .AddAttribute("CapacityHz", "Compute capacity (CPU cycles per second)",
                          DoubleValue(20e9), MakeDoubleAccessor(&MecServer::m_capacityHz),
                          MakeDoubleChecker<double>(1.0))
            .AddAttribute("Discipline", "fifo (one task at a time) or ps (processor sharing)",
                          StringValue("fifo"), MakeStringAccessor(&MecServer::m_discipline),
                          MakeStringChecker())
            .AddAttribute("Slots", "Most tasks in the system (0: unlimited); more are refused",
                          UintegerValue(0), MakeUintegerAccessor(&MecServer::m_slots),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("MemoryGb", "Memory for the tasks in the system, GB (0: unlimited)",
                          DoubleValue(0.0), MakeDoubleAccessor(&MecServer::m_memoryGb),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("PacketSize", "UDP payload of a result packet, header included",
                          UintegerValue(1472), MakeUintegerAccessor(&MecServer::m_packetSize),
                          MakeUintegerChecker<uint32_t>(64))
            .AddTraceSource("Complete", "A task finished (header, time at the server)",
                            MakeTraceSourceAccessor(&MecServer::m_completeTrace),
                            "ns3::MecServer::CompleteCallback");
    return tid;
}

MecServer::MecServer()
{
    NS_LOG_FUNCTION(this);
}

MecServer::~MecServer()
{
    NS_LOG_FUNCTION(this);
}

void
MecServer::DoDispose()
{
    m_socket = nullptr;
    m_jobs.clear();
    m_partial.clear();
    Application::DoDispose();
}

void
MecServer::StartApplication()
{
    NS_LOG_FUNCTION(this);
    NS_ABORT_MSG_UNLESS(m_discipline == "fifo" || m_discipline == "ps",
                        "MecServer: Discipline must be fifo or ps, got " << m_discipline);
    m_socket = Socket::CreateSocket(GetNode(), TypeId::LookupByName("ns3::UdpSocketFactory"));
    NS_ABORT_MSG_IF(m_socket->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_port)) != 0,
                    "MecServer: cannot bind port " << m_port);
    m_socket->SetRecvCallback(MakeCallback(&MecServer::HandleRead, this));
    m_lastUpdate = Simulator::Now();
}

void
MecServer::StopApplication()
{
    NS_LOG_FUNCTION(this);
    Simulator::Cancel(m_next);
    if (m_socket)
    {
        m_socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
        m_socket->Close();
    }
}

void
MecServer::HandleRead(Ptr<Socket> socket)
{
    Address from;
    Ptr<Packet> packet;
    while ((packet = socket->RecvFrom(from)))
    {
        if (!m_up)
        {
            continue; // a failed server hears nothing
        }
        MecTaskHeader h;
        if (packet->GetSize() < h.GetSerializedSize())
        {
            NS_LOG_WARN("MecServer: runt packet of " << packet->GetSize() << " bytes dropped");
            continue;
        }
        packet->RemoveHeader(h);
        if (h.m_kind != MecTaskHeader::UPLOAD)
        {
            continue;
        }
        const auto key = std::make_pair(h.m_device, h.m_taskId);
        uint32_t& got = m_partial[key];
        got += packet->GetSize() + h.GetSerializedSize();
        if (got >= h.m_taskBytes)
        {
            m_partial.erase(key);
            Admit(h, from);
        }
    }
}

void
MecServer::Admit(const MecTaskHeader& header, const Address& from)
{
    Advance();
    const double mem = header.m_memoryMb / 1000.0;
    const char* why = nullptr;
    if (m_slots > 0 && m_jobs.size() >= m_slots)
    {
        why = "no free slot";
    }
    else if (m_memoryGb > 0 && m_memUsedGb + mem > m_memoryGb + 1e-12)
    {
        why = "not enough memory";
    }
    else if (!header.m_deadline.IsZero() && Simulator::Now() > header.m_deadline)
    {
        why = "upload ended after the deadline";
    }
    if (why)
    {
        ++m_rejected;
        NS_LOG_INFO("task " << header.m_taskId << " of device " << header.m_device << " refused: "
                            << why);
        Send(header, MecTaskHeader::REJECTED, 0, from);
        return;
    }
    ++m_admitted;
    m_memUsedGb += mem;
    m_jobs.push_back({header, from, static_cast<double>(header.m_cycles), Simulator::Now()});
    Send(header, MecTaskHeader::ACCEPTED, 0, from);
    Reschedule();
}

void
MecServer::Advance()
{
    const double dt = (Simulator::Now() - m_lastUpdate).GetSeconds();
    m_lastUpdate = Simulator::Now();
    if (m_jobs.empty() || dt <= 0)
    {
        return;
    }
    m_busySeconds += dt;
    if (m_discipline == "fifo")
    {
        m_jobs.front().remaining -= dt * m_capacityHz;
    }
    else
    {
        const double each = dt * m_capacityHz / static_cast<double>(m_jobs.size());
        for (Job& j : m_jobs)
        {
            j.remaining -= each;
        }
    }
}

void
MecServer::Reschedule()
{
    Simulator::Cancel(m_next);
    if (m_jobs.empty() || !m_up)
    {
        return;
    }
    double seconds = 0;
    if (m_discipline == "fifo")
    {
        seconds = m_jobs.front().remaining / m_capacityHz;
    }
    else
    {
        double least = std::numeric_limits<double>::infinity();
        for (const Job& j : m_jobs)
        {
            least = std::min(least, j.remaining);
        }
        seconds = least * static_cast<double>(m_jobs.size()) / m_capacityHz;
    }
    // round up to the simulator's nanosecond so the work is really done when the event runs
    const auto ns = static_cast<int64_t>(std::ceil(std::max(0.0, seconds) * 1e9));
    m_next = Simulator::Schedule(NanoSeconds(ns), &MecServer::OnCompletion, this);
}

void
MecServer::OnCompletion()
{
    Advance();
    // what is left below one nanosecond of work is done (the event time is rounded)
    const double done = m_capacityHz * 1e-9 + 1.0;
    for (auto it = m_jobs.begin(); it != m_jobs.end();)
    {
        if (it->remaining <= done)
        {
            ++m_completed;
            m_completeTrace(it->header, Simulator::Now() - it->admitted);
            Send(it->header, MecTaskHeader::RESULT, it->header.m_resultBytes, it->from);
            m_memUsedGb = std::max(0.0, m_memUsedGb - it->header.m_memoryMb / 1000.0);
            it = m_jobs.erase(it);
        }
        else if (m_discipline == "fifo")
        {
            break; // only the head is in service
        }
        else
        {
            ++it;
        }
    }
    Reschedule();
}

void
MecServer::Send(const MecTaskHeader& header, uint32_t kind, uint32_t bytes, const Address& to)
{
    MecTaskHeader h = header;
    h.m_kind = kind;
    h.m_stamp = Simulator::Now();
    const uint32_t hdr = h.GetSerializedSize();
    uint32_t left = std::max(bytes, hdr);
    while (left > 0)
    {
        const uint32_t size = std::min(left, m_packetSize);
        Ptr<Packet> p = Create<Packet>(std::max(size, hdr) - hdr);
        p->AddHeader(h);
        m_socket->SendTo(p, 0, to);
        left -= size;
    }
}

void
MecServer::Fail()
{
    NS_LOG_FUNCTION(this);
    Advance();
    m_lost += m_jobs.size() + m_partial.size();
    m_jobs.clear();
    m_partial.clear();
    m_memUsedGb = 0;
    Simulator::Cancel(m_next);
    m_up = false;
}

void
MecServer::Repair()
{
    NS_LOG_FUNCTION(this);
    m_up = true;
    m_lastUpdate = Simulator::Now();
}

bool
MecServer::IsUp() const
{
    return m_up;
}

uint32_t
MecServer::GetBacklog() const
{
    return static_cast<uint32_t>(m_jobs.size());
}

double
MecServer::GetMemoryUsedGb() const
{
    return m_memUsedGb;
}

double
MecServer::GetMemoryGb() const
{
    return m_memoryGb > 0 ? m_memoryGb : std::numeric_limits<double>::infinity();
}

double
MecServer::GetBusySeconds()
{
    Advance();
    return m_busySeconds;
}

double
MecServer::GetBacklogCycles()
{
    Advance();
    double sum = 0;
    for (const Job& j : m_jobs)
    {
        sum += std::max(0.0, j.remaining);
    }
    return sum;
}

uint64_t
MecServer::GetAdmitted() const
{
    return m_admitted;
}

uint64_t
MecServer::GetCompleted() const
{
    return m_completed;
}

uint64_t
MecServer::GetRejected() const
{
    return m_rejected;
}

uint64_t
MecServer::GetLost() const
{
    return m_lost;
}

} // namespace ns3
