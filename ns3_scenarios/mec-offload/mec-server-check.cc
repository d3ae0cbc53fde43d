/*
 * mec-server-check: the edge server's compute queue on its own, against queueing theory.
 *
 * One device node sends tasks over a point-to-point link fast enough to be negligible
 * (100 Gb/s, no delay) to one MecServer and measures each task's response time from the
 * result packets. --mode=poisson: Poisson arrivals (--rate per s) with exponential work
 * (--meanCycles), so the mean response time must be M/M/1's 1/(mu - lambda) for both FIFO and
 * processor sharing. --mode=pair: two tasks at once (--cycles1, --cycles2), whose finishing
 * times tell FIFO (c1, c1 + c2) from PS (2 c1, c1 + c2). --failAt/--repairAt fail the server.
 * Prints one JSON line.
 */

#include "mec-server.h"
#include "mec-task-header.h"

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <cstdio>
#include <iostream>
#include <sstream>
#include <vector>

using namespace ns3;

NS_LOG_COMPONENT_DEFINE("MecServerCheck");

namespace
{

struct Device
{
    Ptr<Socket> socket;
    Address server;
    Ptr<ExponentialRandomVariable> gap;
    Ptr<ExponentialRandomVariable> work;
    uint32_t next{0};
    uint32_t limit{0};
    uint32_t sent{0};
    uint32_t rejected{0};
    std::vector<double> responses; ///< by completion order, seconds
    std::vector<double> finished;  ///< completion times, seconds
};

void
SendTask(Device* d, uint64_t cycles)
{
    MecTaskHeader h;
    h.m_taskId = d->next++;
    h.m_taskBytes = 200;
    h.m_resultBytes = 100;
    h.m_cycles = cycles;
    h.m_created = Simulator::Now();
    Ptr<Packet> p = Create<Packet>(h.m_taskBytes - h.GetSerializedSize());
    p->AddHeader(h);
    d->socket->SendTo(p, 0, d->server);
    ++d->sent;
}

void
NextPoisson(Device* d)
{
    if (d->sent >= d->limit)
    {
        return;
    }
    SendTask(d, static_cast<uint64_t>(std::max(1.0, d->work->GetValue())));
    Simulator::Schedule(Seconds(d->gap->GetValue()), &NextPoisson, d);
}

void
Receive(Device* d, Ptr<Socket> socket)
{
    Address from;
    Ptr<Packet> p;
    while ((p = socket->RecvFrom(from)))
    {
        MecTaskHeader h;
        p->RemoveHeader(h);
        if (h.m_kind == MecTaskHeader::RESULT)
        {
            d->responses.push_back((Simulator::Now() - h.m_created).GetSeconds());
            d->finished.push_back(Simulator::Now().GetSeconds());
        }
        else if (h.m_kind == MecTaskHeader::REJECTED)
        {
            ++d->rejected;
        }
    }
}

} // namespace

int
main(int argc, char* argv[])
{
    std::string mode = "poisson";
    std::string discipline = "fifo";
    double capacityHz = 1e9;
    double rate = 7.0;
    double meanCycles = 1e8;
    uint32_t tasks = 20000;
    uint32_t warmup = 1000;
    double cycles1 = 1e8;
    double cycles2 = 3e8;
    uint32_t slots = 0;
    double failAt = -1;
    double repairAt = -1;
    uint32_t seed = 1;

    CommandLine cmd(__FILE__);
    cmd.AddValue("mode", "poisson (M/M/1 check) or pair (two tasks at once)", mode);
    cmd.AddValue("discipline", "fifo or ps", discipline);
    cmd.AddValue("capacityHz", "Server capacity (cycles/s)", capacityHz);
    cmd.AddValue("rate", "poisson: task arrivals per second", rate);
    cmd.AddValue("meanCycles", "poisson: mean work per task (exponential, cycles)", meanCycles);
    cmd.AddValue("tasks", "poisson: tasks to send", tasks);
    cmd.AddValue("warmup", "poisson: first results left out of the mean", warmup);
    cmd.AddValue("cycles1", "pair: work of the first task (cycles)", cycles1);
    cmd.AddValue("cycles2", "pair: work of the second task (cycles)", cycles2);
    cmd.AddValue("slots", "Most tasks at the server (0: unlimited)", slots);
    cmd.AddValue("failAt", "Fail the server at this time (s; < 0: never)", failAt);
    cmd.AddValue("repairAt", "Repair it at this time (s; < 0: never)", repairAt);
    cmd.AddValue("seed", "Random seed", seed);
    cmd.Parse(argc, argv);
    if ((mode != "poisson" && mode != "pair") || (discipline != "fifo" && discipline != "ps") ||
        capacityHz <= 0 || rate <= 0 || meanCycles <= 0)
    {
        std::cerr << "mec-server-check: mode must be poisson or pair, discipline fifo or ps, "
                     "capacityHz, rate and meanCycles > 0"
                  << std::endl;
        return 2;
    }
    RngSeedManager::SetSeed(seed);

    NodeContainer nodes;
    nodes.Create(2);
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue("100Gbps"));
    p2p.SetChannelAttribute("Delay", TimeValue(Seconds(0)));
    NetDeviceContainer devs = p2p.Install(nodes);
    InternetStackHelper internet;
    internet.Install(nodes);
    Ipv4AddressHelper ip("10.1.1.0", "255.255.255.0");
    Ipv4InterfaceContainer ifs = ip.Assign(devs);

    Ptr<MecServer> server = CreateObject<MecServer>();
    server->SetAttribute("CapacityHz", DoubleValue(capacityHz));
    server->SetAttribute("Discipline", StringValue(discipline));
    server->SetAttribute("Slots", UintegerValue(slots));
    nodes.Get(1)->AddApplication(server);
    server->SetStartTime(Seconds(0));

    Device d;
    d.socket = Socket::CreateSocket(nodes.Get(0), UdpSocketFactory::GetTypeId());
    d.socket->Bind();
    d.socket->SetRecvCallback(MakeBoundCallback(&Receive, &d));
    d.server = InetSocketAddress(ifs.GetAddress(1), 9000);
    d.gap = CreateObject<ExponentialRandomVariable>();
    d.gap->SetAttribute("Mean", DoubleValue(1.0 / rate));
    d.work = CreateObject<ExponentialRandomVariable>();
    d.work->SetAttribute("Mean", DoubleValue(meanCycles));
    d.gap->SetStream(1);
    d.work->SetStream(2);
    if (mode == "poisson")
    {
        d.limit = tasks;
        Simulator::Schedule(Seconds(0.1), &NextPoisson, &d);
    }
    else
    {
        d.limit = 2;
        Simulator::Schedule(Seconds(0.1), &SendTask, &d, static_cast<uint64_t>(cycles1));
        Simulator::Schedule(Seconds(0.1), &SendTask, &d, static_cast<uint64_t>(cycles2));
    }
    if (failAt >= 0)
    {
        Simulator::Schedule(Seconds(failAt), &MecServer::Fail, server);
    }
    if (repairAt >= 0)
    {
        Simulator::Schedule(Seconds(repairAt), &MecServer::Repair, server);
    }
    Simulator::Run();

    double sum = 0;
    uint32_t n = 0;
    for (size_t i = (mode == "poisson" ? warmup : 0); i < d.responses.size(); ++i)
    {
        sum += d.responses[i];
        ++n;
    }
    std::ostringstream out;
    out.precision(9);
    out << "{\"mode\":\"" << mode << "\",\"discipline\":\"" << discipline
        << "\",\"sent\":" << d.sent << ",\"completed\":" << d.responses.size()
        << ",\"rejected\":" << d.rejected << ",\"server_completed\":" << server->GetCompleted()
        << ",\"server_lost\":" << server->GetLost() << ",\"server_rejected\":"
        << server->GetRejected() << ",\"mean_response_s\":" << (n ? sum / n : 0.0)
        << ",\"finished_s\":[";
    for (size_t i = 0; i < d.finished.size() && (mode == "pair" || i < 10); ++i)
    {
        out << (i ? "," : "") << d.finished[i];
    }
    out << "]}";
    std::cout << out.str() << std::endl;
    Simulator::Destroy();
    return 0;
}
