#include "mec-device.h"

#include "ns3/abort.h"
#include "ns3/double.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/udp-socket-factory.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("MecDevice");
NS_OBJECT_ENSURE_REGISTERED(MecDevice);

TypeId
MecDevice::GetTypeId()
{
    static TypeId tid = TypeId("ns3::MecDevice")
                            .SetParent<Application>()
                            .SetGroupName("XrMarl")
                            .AddConstructor<MecDevice>();
    return tid;
}

MecDevice::MecDevice()
{
    m_gap = CreateObject<ExponentialRandomVariable>();
    m_uniform = CreateObject<UniformRandomVariable>();
    m_thin = CreateObject<UniformRandomVariable>();
}

MecDevice::~MecDevice() = default;

void
MecDevice::DoDispose()
{
    m_socket = nullptr;
    m_flights.clear();
    Application::DoDispose();
}

void
MecDevice::Setup(uint32_t index,
                 const MecDeviceConfig& cfg,
                 MecShared* shared,
                 std::function<void(double)> setTxPower)
{
    m_index = index;
    m_cfg = cfg;
    m_shared = shared;
    m_setTxPower = std::move(setTxPower);
    m_uplinkRate = cfg.uplinkGuessBps;
}

int64_t
MecDevice::AssignStreams(int64_t stream)
{
    m_gap->SetStream(stream);
    m_uniform->SetStream(stream + 1);
    m_thin->SetStream(stream + 2);
    return 3;
}

void
MecDevice::StartAoi(Time t)
{
    m_newest = t.GetSeconds();
}

double
MecDevice::Now() const
{
    return Simulator::Now().GetSeconds();
}

void
MecDevice::StartApplication()
{
    m_socket = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
    NS_ABORT_MSG_IF(m_socket->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_cfg.port)) != 0,
                    "MecDevice: cannot bind port " << m_cfg.port);
    m_socket->SetRecvCallback(MakeCallback(&MecDevice::HandleRead, this));
    NextArrival();
}

void
MecDevice::StopApplication()
{
    Simulator::Cancel(m_nextArrival);
    if (m_socket)
    {
        m_socket->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
        m_socket->Close();
    }
}

// ------------------------------------------------------------------ arrivals

void
MecDevice::NextArrival()
{
    const double peak = m_cfg.variant == "load-peaks" ? m_cfg.peakMultiplier : 1.0;
    const double maxRate = m_cfg.arrivalRate * peak;
    if (maxRate <= 0)
    {
        return;
    }
    m_gap->SetAttribute("Mean", DoubleValue(1.0 / maxRate));
    m_nextArrival = Simulator::Schedule(Seconds(m_gap->GetValue()), &MecDevice::Arrive, this);
}

void
MecDevice::Arrive()
{
    // thinning: the load-peak schedule counts from step 0, as the twin's
    if (m_cfg.variant == "load-peaks")
    {
        const double t = std::max(0.0, Now() - m_shared->start.GetSeconds());
        const bool inPeak = std::fmod(t, m_cfg.peakPeriod) < m_cfg.peakDuration;
        if (!inPeak && m_thin->GetValue() >= 1.0 / m_cfg.peakMultiplier)
        {
            NextArrival();
            return;
        }
    }
    auto draw = [this](const std::array<double, 2>& r) { return m_uniform->GetValue(r[0], r[1]); };
    Task t;
    t.id = m_nextId++;
    t.created = Now();
    t.bits = draw(m_cfg.bits);
    t.cycles = t.bits * draw(m_cfg.cyclesPerBit);
    t.deadline = t.created + draw(m_cfg.deadline);
    t.priority = draw(m_cfg.priority);
    t.memoryGb = draw(m_cfg.memoryGb);
    m_shared->tally->Add(MecTally::ARRIVED);
    if (m_buffer.size() >= m_cfg.agentBuffer)
    {
        NS_LOG_INFO("device " << m_index << ": task " << t.id << " rejected, buffer full");
        m_shared->tally->Reject(t.priority);
    }
    else
    {
        m_buffer.push_back(t);
    }
    NextArrival();
}

int
MecDevice::Head() const
{
    if (m_buffer.empty())
    {
        return -1;
    }
    if (m_cfg.prioritisation == "none")
    {
        return 0; // arrival order
    }
    double a = 0, b = 0, g = 0;
    if (m_cfg.prioritisation == "deadline")
    {
        a = 1;
    }
    else if (m_cfg.prioritisation == "resource")
    {
        b = 1;
    }
    else if (m_cfg.prioritisation == "sla")
    {
        g = 1;
    }
    else
    {
        a = m_cfg.priorityWeights[0];
        b = m_cfg.priorityWeights[1];
        g = m_cfg.priorityWeights[2];
    }
    const double cMax = m_cfg.bits[1] * m_cfg.cyclesPerBit[1];
    const double now = Now();
    int best = 0;
    double bestScore = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < m_buffer.size(); ++i)
    {
        const Task& t = m_buffer[i];
        const double tau = std::max(t.deadline - t.created, 1e-9);
        const double score = a * (1.0 - (t.deadline - now) / tau) + b * t.cycles / cMax +
                             g * t.priority - 1e-9 * t.created;
        if (score > bestScore)
        {
            bestScore = score;
            best = static_cast<int>(i);
        }
    }
    return best;
}

void
MecDevice::ExpireWaiting()
{
    const double now = Now();
    for (auto it = m_buffer.begin(); it != m_buffer.end();)
    {
        if (it->deadline < now)
        {
            NS_LOG_INFO("device " << m_index << ": task " << it->id << " expired undecided");
            m_shared->tally->Drop(it->priority);
            it = m_buffer.erase(it);
        }
        else
        {
            ++it;
        }
    }
}

void
MecDevice::ServerFailed(uint32_t k)
{
    std::vector<uint32_t> lost;
    for (const auto& [id, f] : m_flights)
    {
        if (f.server == static_cast<int>(k) && !f.remoteDone)
        {
            lost.push_back(id);
        }
    }
    for (uint32_t id : lost)
    {
        NS_LOG_INFO("device " << m_index << ": task " << id << " lost with server " << k);
        Resolve(id, 'd');
    }
}

// ------------------------------------------------------------------ decisions

uint32_t
MecDevice::SlotsInUse() const
{
    uint32_t n = 0;
    for (const auto& [id, f] : m_flights)
    {
        n += f.holdsSlot ? 1 : 0;
    }
    return n;
}

void
MecDevice::Decide(uint32_t action)
{
    int server = -1;
    double alpha = 0;
    double powerDbm = 0;
    if (action > 0)
    {
        const uint32_t nP = m_cfg.txPowersDbm.size();
        const uint32_t nF = m_cfg.fractions.size();
        const uint32_t i = action - 1;
        server = static_cast<int>(i / (nP * nF));
        NS_ABORT_MSG_UNLESS(server < static_cast<int>(m_shared->servers.size()),
                            "MecDevice: action " << action << " names server " << server);
        alpha = m_cfg.fractions[(i / nP) % nF];
        powerDbm = m_cfg.txPowersDbm[i % nP];
    }
    DecideTask(server, alpha, powerDbm);
}

void
MecDevice::DecideHybrid(uint32_t head, double alpha, double powerDbm)
{
    NS_ABORT_MSG_UNLESS(std::isfinite(alpha) && std::isfinite(powerDbm),
                        "MecDevice: hybrid action values must be finite, got alpha "
                            << alpha << ", power " << powerDbm << " dBm");
    NS_ABORT_MSG_UNLESS(head <= m_shared->servers.size(),
                        "MecDevice: target head " << head << " names server " << head - 1);
    int server = static_cast<int>(head) - 1;
    alpha = std::clamp(alpha, 0.0, 1.0);
    if (server >= 0 && SlotsInUse() >= m_cfg.localSlots)
    {
        alpha = 1.0; // no local slot for a partial offload: all of it goes
    }
    if (server < 0 || alpha <= 0.0)
    {
        server = -1; // local
        alpha = 0.0;
    }
    const auto [lo, hi] = std::minmax_element(m_cfg.txPowersDbm.begin(), m_cfg.txPowersDbm.end());
    powerDbm = std::clamp(powerDbm, *lo, *hi);
    NS_LOG_DEBUG("device " << m_index << ": hybrid head " << head << " -> server " << server
                           << ", alpha " << alpha << ", " << powerDbm << " dBm");
    DecideTask(server, alpha, powerDbm);
}

void
MecDevice::DecideTask(int server, double alpha, double powerDbm)
{
    const int head = Head();
    if (head < 0)
    {
        return; // nothing to decide: the action is a no-op
    }
    const bool localPart = alpha < 1.0;
    if (localPart && SlotsInUse() >= m_cfg.localSlots)
    {
        NS_LOG_INFO("device " << m_index << ": task " << m_buffer[head].id
                              << " waits: the CPU queue is full");
        return; // the CPU queue is full: the task waits for a later decision
    }
    Task task = m_buffer[head];
    m_buffer.erase(m_buffer.begin() + head);
    ++m_decisions;
    m_offloads += server >= 0 ? 1 : 0;
    m_shared->tally->Add(MecTally::ENERGY_TASKS);

    Flight& f = m_flights[task.id];
    f.task = task;
    f.alpha = alpha;
    f.server = server;
    f.powerW = server >= 0 ? std::pow(10.0, (powerDbm - 30.0) / 10.0) : 0.0;
    if (localPart)
    {
        f.holdsSlot = true;
        StartLocal(f, (1.0 - alpha) * task.cycles);
    }
    if (server >= 0)
    {
        if (m_setTxPower)
        {
            m_setTxPower(powerDbm);
        }
        SendUpload(f);
        const double wait = std::max(0.0, task.deadline + m_cfg.taskTimeout - Now());
        f.timeout = Simulator::Schedule(Seconds(wait), [this, id = task.id]() {
            auto it = m_flights.find(id);
            if (it != m_flights.end() && !it->second.remoteDone)
            {
                NS_LOG_INFO("device " << m_index << ": task " << id << " timed out");
                Resolve(id, 'd');
            }
        });
    }
    if (m_cfg.dropLate)
    {
        f.late = Simulator::Schedule(Seconds(std::max(0.0, task.deadline - Now())),
                                     [this, id = task.id]() {
                                         if (m_flights.count(id))
                                         {
                                             Resolve(id, 'd');
                                         }
                                     });
    }
}

std::pair<uint32_t, uint32_t>
MecDevice::TakeDecisionCounts()
{
    auto out = std::make_pair(m_decisions, m_offloads);
    m_decisions = m_offloads = 0;
    return out;
}

void
MecDevice::StartLocal(Flight& f, double cycles)
{
    const double now = Now();
    const double start = std::max(now, m_localFree);
    m_localFree = start + cycles / m_cfg.fLocalHz;
    f.localDone = false;
    m_shared->tally->Add(MecTally::ENERGY_J, m_cfg.kappa * m_cfg.fLocalHz * m_cfg.fLocalHz * cycles);
    Simulator::Schedule(Seconds(m_localFree - now), &MecDevice::OnLocalDone, this, f.task.id);
}

void
MecDevice::OnLocalDone(uint32_t id)
{
    auto it = m_flights.find(id);
    if (it == m_flights.end())
    {
        return; // resolved meanwhile (refused or dropped)
    }
    it->second.localDone = true;
    TryComplete(id);
}

// ------------------------------------------------------------------ uploads and results

void
MecDevice::SendUpload(Flight& f)
{
    MecTaskHeader h;
    const uint32_t hdr = h.GetSerializedSize();
    const auto bytes =
        std::max<uint32_t>(hdr, static_cast<uint32_t>(std::ceil(f.alpha * f.task.bits / 8.0)));
    h.m_kind = MecTaskHeader::UPLOAD;
    h.m_taskId = f.task.id;
    h.m_device = m_index;
    h.m_taskBytes = bytes;
    h.m_resultBytes = m_cfg.resultBytes;
    h.m_cycles = static_cast<uint64_t>(std::llround(f.alpha * f.task.cycles));
    h.m_created = Seconds(f.task.created);
    h.m_deadline = Seconds(f.task.deadline);
    h.m_memoryMb = static_cast<uint32_t>(std::lround(f.task.memoryGb * 1000.0));
    uint32_t left = bytes;
    while (left > 0)
    {
        const uint32_t size = std::min(left, m_cfg.packetBytes);
        Ptr<Packet> p = Create<Packet>(std::max(size, hdr) - hdr);
        p->AddHeader(h);
        m_socket->SendTo(p, 0, m_shared->servers[f.server]);
        m_bytesSent += std::max(size, hdr);
        left -= size;
    }
    f.uploading = true;
    f.remoteDone = false;
    f.uploadStart = Now();
    f.uploadBytes = bytes;
    ++m_shared->uploadsActive[f.server];
}

void
MecDevice::HandleRead(Ptr<Socket> socket)
{
    Address from;
    Ptr<Packet> p;
    while ((p = socket->RecvFrom(from)))
    {
        MecTaskHeader h;
        if (p->GetSize() < h.GetSerializedSize())
        {
            continue;
        }
        const uint32_t size = p->GetSize();
        p->RemoveHeader(h);
        auto it = m_flights.find(h.m_taskId);
        if (h.m_device != m_index || it == m_flights.end())
        {
            continue; // a task already resolved (e.g. timed out)
        }
        Flight& f = it->second;
        switch (h.m_kind)
        {
        case MecTaskHeader::ACCEPTED:
            EndUpload(f, h.m_stamp.GetSeconds(), true);
            break;
        case MecTaskHeader::REJECTED:
            EndUpload(f, h.m_stamp.GetSeconds(), false);
            Resolve(h.m_taskId, 'r');
            break;
        case MecTaskHeader::RESULT:
            f.resultGot += size;
            if (f.resultGot >= std::max(h.m_resultBytes, h.GetSerializedSize()))
            {
                f.remoteDone = true;
                TryComplete(h.m_taskId);
            }
            break;
        default:
            break;
        }
    }
}

void
MecDevice::EndUpload(Flight& f, double end, bool accepted)
{
    if (!f.uploading)
    {
        return;
    }
    f.uploading = false;
    --m_shared->uploadsActive[f.server];
    // uploads leave one after the other: this one's air time starts when the last one ended
    const double start = std::max(f.uploadStart, m_uplinkEnd);
    const double air = std::max(end - start, 1e-9);
    m_uplinkEnd = std::max(m_uplinkEnd, end);
    const double rate = 8.0 * f.uploadBytes / air;
    m_uplinkRate = 0.5 * m_uplinkRate + 0.5 * rate;
    m_shared->tally->Add(MecTally::ENERGY_J, f.powerW * air);
    if (accepted)
    {
        m_shared->tally->Add(MecTally::UPLOADS);
        m_shared->tally->Add(MecTally::OUTAGES, rate < m_cfg.outageRateBps ? 1.0 : 0.0);
    }
}

void
MecDevice::TryComplete(uint32_t id)
{
    const Flight& f = m_flights.at(id);
    if (f.localDone && f.remoteDone)
    {
        Resolve(id, 'c');
    }
}

void
MecDevice::Resolve(uint32_t id, char how)
{
    auto it = m_flights.find(id);
    NS_ASSERT(it != m_flights.end());
    Flight& f = it->second;
    Simulator::Cancel(f.timeout);
    Simulator::Cancel(f.late);
    if (f.uploading)
    {
        // never acknowledged (a failed server, lost packets, too slow): the device was
        // sending until now
        f.uploading = false;
        --m_shared->uploadsActive[f.server];
        const double air = std::max(0.0, Now() - std::max(f.uploadStart, m_uplinkEnd));
        m_shared->tally->Add(MecTally::ENERGY_J, f.powerW * air);
    }
    const Task& t = f.task;
    MecTally& tally = *m_shared->tally;
    if (how == 'c')
    {
        const double now = Now();
        tally.Complete(now, t.created, t.deadline, t.priority);
        if (t.created > m_newest)
        {
            tally.Add(MecTally::UPDATES);
            tally.Add(MecTally::PEAK_SUM, now - m_newest);
            m_newest = t.created;
        }
    }
    else if (how == 'r')
    {
        tally.Reject(t.priority);
    }
    else
    {
        tally.Drop(t.priority);
    }
    m_flights.erase(it);
}

MecDevice::View
MecDevice::Observe() const
{
    View v;
    const double now = Now();
    const int head = Head();
    if (head >= 0)
    {
        const Task& t = m_buffer[head];
        v.has = true;
        v.bits = t.bits;
        v.cycles = t.cycles;
        v.priority = t.priority;
        v.memoryGb = t.memoryGb;
        v.slack = t.deadline - now;
    }
    v.localWait = std::max(0.0, m_localFree - now);
    double bits = 0;
    double oldest = now;
    for (const auto& [id, f] : m_flights)
    {
        if (f.uploading)
        {
            bits += 8.0 * f.uploadBytes;
            oldest = std::min(oldest, f.uploadStart);
        }
    }
    if (bits > 0)
    {
        const double rate = m_uplinkRate > 0 ? m_uplinkRate : m_cfg.uplinkGuessBps;
        v.uplinkWait = std::max(0.0, bits / rate - (now - std::max(oldest, m_uplinkEnd)));
    }
    v.localFull = SlotsInUse() >= m_cfg.localSlots;
    v.aoi = now - m_newest;
    return v;
}

} // namespace ns3
