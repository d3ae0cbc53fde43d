/*
 * RLC transmit-buffer occupancy tracking (see xrmarl-rlc-buffer.h).
 */
#include "xrmarl-rlc-buffer.h"

#include "ns3/config.h"
#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cstdlib>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrMarlRlcBuffer");
NS_OBJECT_ENSURE_REGISTERED(XrMarlRlcBufferTracker);

// ------------------------------------------------------------------------------ tracker

TypeId
XrMarlRlcBufferTracker::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::XrMarlRlcBufferTracker")
            .SetParent<Object>()
            .SetGroupName("XrMarl")
            .AddConstructor<XrMarlRlcBufferTracker>()
            .AddAttribute("RlcHeaderBytes",
                          "RLC UM header bytes subtracted from each TxPDU (10-bit SN: 2)",
                          UintegerValue(2),
                          MakeUintegerAccessor(&XrMarlRlcBufferTracker::m_headerBytes),
                          MakeUintegerChecker<uint32_t>());
    return tid;
}

XrMarlRlcBufferTracker::XrMarlRlcBufferTracker()
{
}

void
XrMarlRlcBufferTracker::SetCapacity(uint32_t bytes)
{
    m_capacity = bytes;
}

void
XrMarlRlcBufferTracker::Advance()
{
    const Time now = Simulator::Now();
    m_area += m_occ * (now - m_last).GetSeconds();
    m_last = now;
}

void
XrMarlRlcBufferTracker::OnPdcpTx(uint32_t bytes)
{
    Advance();
    m_inBytes += bytes;
    m_occ += bytes;
}

void
XrMarlRlcBufferTracker::OnRlcDrop(uint32_t bytes)
{
    // the SDU was counted in by OnPdcpTx just before: take it out again. A drop means the
    // buffer could not take `bytes` more, so it holds more than capacity - bytes.
    Advance();
    m_dropBytes += bytes;
    m_occ = std::max(m_occ - bytes, static_cast<double>(m_capacity) - bytes + 1);
    m_occ = std::min(m_occ, static_cast<double>(m_capacity));
}

void
XrMarlRlcBufferTracker::OnRlcTx(uint32_t bytes)
{
    Advance();
    m_outBytes += bytes;
    ++m_outPdus;
    const double payload = bytes > m_headerBytes ? bytes - m_headerBytes : 0;
    m_occ = std::max(0.0, m_occ - payload);
}

double
XrMarlRlcBufferTracker::CloseWindow()
{
    Advance();
    const double len = (Simulator::Now() - m_windowStart).GetSeconds();
    const double ratio = len > 0 ? m_area / len / m_capacity : m_occ / m_capacity;
    m_area = 0;
    m_windowStart = Simulator::Now();
    return std::clamp(ratio, 0.0, 1.0);
}

// ------------------------------------------------------------------------------ traces

namespace
{

/// The UE's RNTI from a trace context ".../UeMap/<rnti>/...", or -1.
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

} // namespace

XrMarlRlcBufferTraces::XrMarlRlcBufferTraces(const XrMarlRan& ran)
    : m_ran(ran)
{
}

void
XrMarlRlcBufferTraces::Add(Ptr<NetDevice> ueDev, Ptr<XrMarlRlcBufferTracker> tracker)
{
    m_ues.emplace_back(ueDev, tracker);
}

void
XrMarlRlcBufferTraces::Start(Time t0, uint32_t expectedBearers)
{
    m_t0 = t0;
    m_expected = expectedBearers;
    Simulator::Schedule(t0 / 2, &XrMarlRlcBufferTraces::TryConnect, this);
}

void
XrMarlRlcBufferTraces::TryConnect()
{
    const bool last = Simulator::Now() + MilliSeconds(5) >= m_t0;
    for (const XrMarlRlcTracePath& p : m_ran.RlcTracePaths())
    {
        const std::string base =
            "/NodeList/*/DeviceList/*/" + p.device + "/" + p.rrc + "/UeMap/*/DataRadioBearerMap/*/";
        const uint32_t found = Config::LookupMatches(base + p.rlc).GetN();
        if (found == 0 || (found < m_expected && !last))
        {
            continue;
        }
        for (const auto& [dev, tracker] : m_ues)
        {
            m_byRnti[m_ran.Rnti(dev)] = tracker;
        }
        m_connected =
            Config::ConnectFailSafe(base + p.pdcp + "/TxPDU",
                                    MakeCallback(&XrMarlRlcBufferTraces::OnPdcpTx, this)) &&
            Config::ConnectFailSafe(base + p.rlc + "/TxPDU",
                                    MakeCallback(&XrMarlRlcBufferTraces::OnRlcTx, this)) &&
            Config::ConnectFailSafe(base + p.rlc + "/TxDrop",
                                    MakeCallback(&XrMarlRlcBufferTraces::OnRlcDrop, this));
        m_tracedBearers = found;
        if (m_connected && found < m_expected)
        {
            NS_LOG_WARN("only " << found << " of " << m_expected
                                << " radio bearers exist at t0; buffer_ratio may miss some");
        }
        return;
    }
    if (!last)
    {
        Simulator::Schedule(MilliSeconds(5), &XrMarlRlcBufferTraces::TryConnect, this);
        return;
    }
    NS_LOG_WARN("RLC/PDCP traces not found: bearers not set up; buffer_ratio stays 0");
}

Ptr<XrMarlRlcBufferTracker>
XrMarlRlcBufferTraces::Find(uint16_t rnti) const
{
    auto it = m_byRnti.find(rnti);
    return it == m_byRnti.end() ? nullptr : it->second;
}

void
XrMarlRlcBufferTraces::OnPdcpTx(std::string ctx, uint16_t rnti, uint8_t lcid, uint32_t size)
{
    if (auto t = Find(rnti))
    {
        t->OnPdcpTx(size);
    }
}

void
XrMarlRlcBufferTraces::OnRlcTx(std::string ctx, uint16_t rnti, uint8_t lcid, uint32_t size)
{
    if (auto t = Find(rnti))
    {
        t->OnRlcTx(size);
    }
}

void
XrMarlRlcBufferTraces::OnRlcDrop(std::string ctx, Ptr<const Packet> p)
{
    const int rnti = RntiFromContext(ctx);
    if (rnti < 0)
    {
        return;
    }
    if (auto t = Find(static_cast<uint16_t>(rnti)))
    {
        t->OnRlcDrop(p->GetSize());
    }
}

} // namespace ns3
