/*
 * RAN + EPC construction for LTE (ns-3) and NR (5G-LENA, in builds with XRMARL_WITH_NR); see
 * xrmarl-ran.h.
 */
#include "xrmarl-ran.h"

#include "xrmarl-flags.h"
#include "xrmarl-json.h"

#include "ns3/channel-condition-model.h"
#include "ns3/config.h"
#include "ns3/core-module.h"
#include "ns3/epc-tft.h"
#include "ns3/eps-bearer.h"
#include "ns3/ipv4-address-helper.h"
#include "ns3/ipv4-static-routing-helper.h"
#include "ns3/ipv4-static-routing.h"
#include "ns3/isotropic-antenna-model.h"
#include "ns3/lte-enb-net-device.h"
#include "ns3/lte-enb-phy.h"
#include "ns3/lte-helper.h"
#include "ns3/lte-ue-net-device.h"
#include "ns3/lte-ue-phy.h"
#include "ns3/lte-ue-rrc.h"
#include "ns3/mobility-helper.h"
#include "ns3/mobility-model.h"
#include "ns3/point-to-point-epc-helper.h"
#include "ns3/point-to-point-helper.h"
#include "ns3/spectrum-channel.h"
#include "ns3/three-gpp-propagation-loss-model.h"
#ifdef XRMARL_WITH_NR
#include "ns3/nr-module.h"
#endif

#include <algorithm>
#include <iterator>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrMarlRan");

// ------------------------------------------------------------------------------ configuration

void
XrMarlRanConfig::AddTo(CommandLine& cmd)
{
    cmd.AddValue("ran", "Radio access network: nr (5G-LENA; the default where built) or lte", ran);
    cmd.AddValue("bandwidthRbs", "LTE bandwidth in RBs: 6, 15, 25, 50, 75 or 100 (20 MHz)", bandwidthRbs);
    cmd.AddValue("bandwidthMhz", "Bandwidth in MHz (NR: any, default 20, Table III says 40; LTE: 1.4, 3, 5, 10, 15, 20, sets bandwidthRbs)", bandwidthMhz);
    cmd.AddValue("rlcBufferBytes", "RLC UM transmit buffer (bytes)", rlcBufferBytes);
    cmd.AddValue("rlcBuffer", "Alias of rlcBufferBytes", rlcBufferAlias);
    cmd.AddValue("rlcMode", "RLC of the data bearers: um (unacknowledged, losses stay lost) or am "
                 "(acknowledged, ARQ retransmits)", rlcMode);
    cmd.AddValue("frequencyGhz", "Carrier frequency for the path loss (GHz)", frequencyGhz);
    cmd.AddValue("enbTxDbm", "Base station transmit power (dBm)", enbTxDbm);
    cmd.AddValue("gnbTxPower", "Alias of enbTxDbm", gnbTxPowerAlias);
    cmd.AddValue("ueTxDbm", "UE transmit power (dBm)", ueTxDbm);
    cmd.AddValue("enbNoiseFigure", "Base station noise figure (dB)", enbNoiseFigure);
    cmd.AddValue("ueNoiseFigure", "UE noise figure (dB)", ueNoiseFigure);
    cmd.AddValue("enbAntennaGainDb", "Base station antenna gain (dB; stands in for the array)", enbAntennaGainDb);
    cmd.AddValue("enbHeight", "Base station height (m)", enbHeight);
    cmd.AddValue("shadowing", "3GPP shadowing on the path loss", shadowing);
    cmd.AddValue("scheduler", "LTE MAC scheduler TypeId", scheduler);
    cmd.AddValue("coreDelayMs", "One-way delay of the remote host -> PGW link (ms)", coreDelayMs);
    cmd.AddValue("numerology", "NR only: numerology of the bandwidth part", numerology);
    cmd.AddValue("gnbAntennaRows", "NR only: gNB array rows", gnbAntennaRows);
    cmd.AddValue("gnbAntennaCols", "NR only: gNB array columns", gnbAntennaCols);
    cmd.AddValue("nrScheduler", "NR only: MAC scheduler TypeId", nrScheduler);
}

void
XrMarlRanConfig::Check(const std::string& program)
{
    if (ran.empty())
    {
        ran = DefaultRan();
    }
    if (ran != "nr" && ran != "lte")
    {
        XrMarlUsageError(program, "ran must be nr or lte, got '" + ran + "'");
    }
    if (IsNr() && !HasNr())
    {
        XrMarlUsageError(program,
                         "this build has no NR (5G-LENA nr module): rebuild with "
                         "`xr-marl build-ns3 --nr-source <nr tarball or checkout>`, or use --ran=lte");
    }
    if (rlcMode != "um" && rlcMode != "am")
    {
        XrMarlUsageError(program, "rlcMode must be um or am, got '" + rlcMode + "'");
    }
    if (rlcBufferAlias > 0)
    {
        rlcBufferBytes = rlcBufferAlias;
    }
    if (!std::isnan(gnbTxPowerAlias))
    {
        enbTxDbm = gnbTxPowerAlias;
    }
    if (IsNr())
    {
        if (bandwidthMhz != -1 && !(bandwidthMhz > 0))
        {
            XrMarlUsageError(program, "bandwidthMhz must be > 0");
        }
        if (numerology > 4)
        {
            XrMarlUsageError(program, "numerology must be 0..4");
        }
        if (gnbAntennaRows == 0 || gnbAntennaCols == 0)
        {
            XrMarlUsageError(program, "gnbAntennaRows and gnbAntennaCols must be >= 1");
        }
        return;
    }
    if (bandwidthMhz != -1)
    {
        bandwidthRbs = std::abs(bandwidthMhz - 1.4) < 1e-6
                           ? 6
                           : static_cast<uint32_t>(std::lround(bandwidthMhz * 5));
        if (std::abs(bandwidthRbs / 5.0 - bandwidthMhz) > 1e-6 && bandwidthRbs != 6)
        {
            bandwidthRbs = 0; // not an LTE bandwidth: refused below
        }
    }
    static const uint32_t rbs[] = {6, 15, 25, 50, 75, 100};
    if (std::find(std::begin(rbs), std::end(rbs), bandwidthRbs) == std::end(rbs))
    {
        XrMarlUsageError(program,
                         "LTE bandwidth must be 6, 15, 25, 50, 75 or 100 RBs (1.4, 3, 5, 10, 15, 20 MHz); "
                         "ns-3's LTE has nothing wider than 20 MHz (use --ran=nr)");
    }
}

bool
XrMarlRanConfig::HasNr()
{
#ifdef XRMARL_WITH_NR
    return true;
#else
    return false;
#endif
}

std::string
XrMarlRanConfig::DefaultRan()
{
    return HasNr() ? "nr" : "lte";
}

double
XrMarlRanConfig::EffectiveBandwidthMhz() const
{
    if (IsNr())
    {
        return bandwidthMhz > 0 ? bandwidthMhz : 20.0; // as LTE's 100 RBs and the XR settings
    }
    return bandwidthRbs * 0.2;
}

bool
XrMarlIsStandardQci(uint32_t qci)
{
    static const uint32_t qcis[] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  65, 66, 67, 69,
                                    70, 71, 72, 73, 74, 75, 76, 79, 80, 82, 83, 84, 85};
    return std::find(std::begin(qcis), std::end(qcis), qci) != std::end(qcis);
}

XrMarlBearerFilter
XrMarlBearerFilter::UePort(Direction d, uint16_t port)
{
    XrMarlBearerFilter f;
    f.direction = d;
    f.localPortStart = port;
    f.localPortEnd = port;
    return f;
}

namespace
{

/// Copy the RAN-agnostic filter into an EpcTft / NrEpcTft packet filter.
template <typename Tft>
typename Tft::PacketFilter
ToPacketFilter(const XrMarlBearerFilter& f)
{
    typename Tft::PacketFilter pf;
    pf.direction = f.direction == XrMarlBearerFilter::DOWNLINK ? Tft::DOWNLINK
                   : f.direction == XrMarlBearerFilter::UPLINK ? Tft::UPLINK
                                                               : Tft::BIDIRECTIONAL;
    pf.localPortStart = f.localPortStart;
    pf.localPortEnd = f.localPortEnd;
    pf.remotePortStart = f.remotePortStart;
    pf.remotePortEnd = f.remotePortEnd;
    return pf;
}

} // namespace

// ------------------------------------------------------------------------------ XrMarlRan

NodeContainer
XrMarlRan::CreateBaseStations(const XrMarlRanConfig& cfg, uint32_t n)
{
    NodeContainer bs;
    bs.Create(n);
    MobilityHelper mob;
    mob.SetMobilityModel("ns3::ConstantPositionMobilityModel");
    mob.Install(bs);
    bs.Get(0)->GetObject<MobilityModel>()->SetPosition(Vector(0, 0, cfg.enbHeight));
    return bs;
}

uint16_t
XrMarlRan::Rnti(Ptr<NetDevice> ueDev) const
{
    return m_rnti(ueDev);
}

void
XrMarlRan::SetUeTxPower(Ptr<NetDevice> ueDev, double dbm) const
{
    m_txPower(ueDev, dbm);
}

void
XrMarlRan::TraceDlSinr(Ptr<NetDevice> ueDev, std::function<void(double)> sinr) const
{
    m_sinrTrace(ueDev, std::move(sinr));
}

void
XrMarlDlSinrMeter::Add(double sinrLinear)
{
    if (std::isfinite(sinrLinear) && sinrLinear > 0)
    {
        m_sumDb += 10.0 * std::log10(sinrLinear);
        ++m_n;
    }
}

double
XrMarlDlSinrMeter::CloseWindow()
{
    if (m_n > 0)
    {
        m_lastDb = m_sumDb / m_n;
    }
    m_sumDb = 0;
    m_n = 0;
    return m_lastDb;
}

void
XrMarlRan::ActivateDedicatedBearer(Ptr<NetDevice> ueDev, uint32_t qci, const XrMarlBearerFilter& filter) const
{
    m_bearer(ueDev, qci, filter);
}

XrMarlRan
XrMarlRan::Build(const XrMarlRanConfig& cfg, NodeContainer bsNodes, NodeContainer ueNodes)
{
    NS_LOG_FUNCTION(cfg.ran << bsNodes.GetN() << ueNodes.GetN());
    NS_ABORT_MSG_IF(cfg.ran != "nr" && cfg.ran != "lte", "XrMarlRanConfig::Check() not called");
    XrMarlRan ran;
    if (cfg.IsNr())
    {
        BuildNr(ran, cfg, bsNodes, ueNodes);
    }
    else
    {
        BuildLte(ran, cfg, bsNodes, ueNodes);
    }
    return ran;
}

void
XrMarlRan::BuildLte(XrMarlRan& ran, const XrMarlRanConfig& cfg, NodeContainer bsNodes, NodeContainer ueNodes)
{
    InternetStackHelper internet;
    Ipv4StaticRoutingHelper routing;
    // ---------------------------------------------------------------------- LTE
    ran.m_name = "lte";
    Config::SetDefault("ns3::EpsBearer::Release", UintegerValue(15)); // QCI 80 needs Release 15
    Config::SetDefault("ns3::LteRlcUm::MaxTxBufferSize", UintegerValue(cfg.rlcBufferBytes));
    if (cfg.rlcMode == "am")
    {
        Config::SetDefault("ns3::LteEnbRrc::EpsBearerToRlcMapping", StringValue("RlcAmAlways"));
        Config::SetDefault("ns3::LteRlcAm::MaxTxBufferSize", UintegerValue(cfg.rlcBufferBytes));
    }
    // ns-3.44's "PDCP discarding" only fires the TxDrop trace for late SDUs and still queues
    // them; off, TxDrop reports exactly the SDUs refused by a full buffer (same behaviour)
    Config::SetDefault("ns3::LteRlcUm::EnablePdcpDiscarding", BooleanValue(false));
    Config::SetDefault("ns3::LteEnbPhy::TxPower", DoubleValue(cfg.enbTxDbm));
    Config::SetDefault("ns3::LteUePhy::TxPower", DoubleValue(cfg.ueTxDbm));
    Config::SetDefault("ns3::LteEnbPhy::NoiseFigure", DoubleValue(cfg.enbNoiseFigure));
    Config::SetDefault("ns3::LteUePhy::NoiseFigure", DoubleValue(cfg.ueNoiseFigure));
    Config::SetDefault("ns3::LteEnbNetDevice::DlBandwidth", UintegerValue(cfg.bandwidthRbs));
    Config::SetDefault("ns3::LteEnbNetDevice::UlBandwidth", UintegerValue(cfg.bandwidthRbs));
    Config::SetDefault("ns3::LteEnbRrc::SrsPeriodicity", UintegerValue(cfg.srsPeriodicity));
    Config::SetDefault("ns3::ThreeGppPropagationLossModel::ShadowingEnabled", BooleanValue(cfg.shadowing));

    Ptr<LteHelper> lte = CreateObject<LteHelper>();
    Ptr<PointToPointEpcHelper> epc = CreateObject<PointToPointEpcHelper>();
    lte->SetEpcHelper(epc);
    lte->SetSchedulerType(cfg.scheduler);
    lte->SetAttribute("PathlossModel", StringValue(cfg.pathlossModel));
    if (cfg.alwaysNlos)
    {
        lte->SetPathlossModelAttribute("ChannelConditionModel",
                                       PointerValue(CreateObject<NeverLosChannelConditionModel>()));
    }
    lte->SetEnbAntennaModelType("ns3::IsotropicAntennaModel");
    lte->SetEnbAntennaModelAttribute("Gain", DoubleValue(cfg.enbAntennaGainDb));
    ran.m_gateway = epc->GetPgwNode();

    ran.m_bsDevs = lte->InstallEnbDevice(bsNodes);
    ran.m_ueDevs = lte->InstallUeDevice(ueNodes);
    lte->AssignStreams(ran.m_bsDevs, 1000);
    lte->AssignStreams(ran.m_ueDevs, 2000);
    // LteHelper sets the path-loss frequency from the EARFCN; the scenario's carrier is ours
    for (auto ch : {lte->GetDownlinkSpectrumChannel(), lte->GetUplinkSpectrumChannel()})
    {
        for (Ptr<PropagationLossModel> m = ch->GetPropagationLossModel(); m; m = m->GetNext())
        {
            m->SetAttributeFailSafe("Frequency", DoubleValue(cfg.frequencyGhz * 1e9));
            if (auto tg = DynamicCast<ThreeGppPropagationLossModel>(m))
            {
                tg->AssignStreams(3000);
            }
        }
    }
    internet.Install(ueNodes);
    ran.m_ueIfs = epc->AssignUeIpv4Address(ran.m_ueDevs);
    for (uint32_t i = 0; i < ueNodes.GetN(); ++i)
    {
        routing.GetStaticRouting(ueNodes.Get(i)->GetObject<Ipv4>())
            ->SetDefaultRoute(epc->GetUeDefaultGatewayAddress(), 1);
    }
    if (ran.m_bsDevs.GetN() == 1)
    {
        lte->Attach(ran.m_ueDevs, ran.m_bsDevs.Get(0));
    }
    else
    {
        lte->AttachToClosestEnb(ran.m_ueDevs, ran.m_bsDevs);
    }
    ran.m_bearer = [lte](Ptr<NetDevice> dev, uint32_t qci, const XrMarlBearerFilter& f) {
        Ptr<EpcTft> tft = Create<EpcTft>();
        tft->Add(ToPacketFilter<EpcTft>(f));
        lte->ActivateDedicatedEpsBearer(dev, EpsBearer(static_cast<EpsBearer::Qci>(qci)), tft);
    };
    ran.m_rnti = [](Ptr<NetDevice> dev) {
        return dev->GetObject<LteUeNetDevice>()->GetRrc()->GetRnti();
    };
    ran.m_txPower = [](Ptr<NetDevice> dev, double dbm) {
        dev->GetObject<LteUeNetDevice>()->GetPhy()->SetTxPower(dbm);
    };
    ran.m_sinrTrace = [](Ptr<NetDevice> dev, std::function<void(double)> f) {
        Callback<void, uint16_t, uint16_t, double, double, uint8_t> cb(
            [f](uint16_t, uint16_t, double, double sinr, uint8_t) { f(sinr); });
        dev->GetObject<LteUeNetDevice>()->GetPhy()->TraceConnectWithoutContext(
            "ReportCurrentCellRsrpSinr",
            cb);
    };
    ran.m_tracePaths.push_back({"$ns3::LteEnbNetDevice", "LteEnbRrc", "LtePdcp", "LteRlc"});
    ran.m_helper = lte;
    ran.m_epc = epc;
}

void
XrMarlRan::BuildNr(XrMarlRan& ran, const XrMarlRanConfig& cfg, NodeContainer bsNodes, NodeContainer ueNodes)
{
#ifdef XRMARL_WITH_NR
    InternetStackHelper internet;
    Ipv4StaticRoutingHelper routing;
    // ---------------------------------------------------------------------- 5G-LENA NR
    // Table III: 4x8 array, numerology 2, 4 GHz, UMa NLoS; 20 MHz by default (40: --bandwidthMhz).
    // 5G-LENA's v4 API (nr v4.0 for ns-3.44); see README.md "NR".
    ran.m_name = "nr";
    const double nrBandwidthHz = cfg.EffectiveBandwidthMhz() * 1e6;
    Config::SetDefaultFailSafe("ns3::NrEpsBearer::Release", UintegerValue(15));
    Config::SetDefault("ns3::NrRlcUm::MaxTxBufferSize", UintegerValue(cfg.rlcBufferBytes));
    if (cfg.rlcMode == "am")
    {
        Config::SetDefault("ns3::NrGnbRrc::EpsBearerToRlcMapping", StringValue("RlcAmAlways"));
        Config::SetDefault("ns3::NrRlcAm::MaxTxBufferSize", UintegerValue(cfg.rlcBufferBytes));
    }
    Config::SetDefaultFailSafe("ns3::NrRlcUm::EnablePdcpDiscarding", BooleanValue(false));
    Config::SetDefaultFailSafe("ns3::NrUePhy::TxPower", DoubleValue(cfg.ueTxDbm));
    Config::SetDefaultFailSafe("ns3::NrUePhy::NoiseFigure", DoubleValue(cfg.ueNoiseFigure));
    Config::SetDefaultFailSafe("ns3::NrGnbPhy::NoiseFigure", DoubleValue(cfg.enbNoiseFigure));

    Ptr<NrPointToPointEpcHelper> epc = CreateObject<NrPointToPointEpcHelper>();
    Ptr<IdealBeamformingHelper> bf = CreateObject<IdealBeamformingHelper>();
    Ptr<NrHelper> nr = CreateObject<NrHelper>();
    nr->SetBeamformingHelper(bf);
    nr->SetEpcHelper(epc);
    bf->SetAttribute("BeamformingMethod", TypeIdValue(DirectPathBeamforming::GetTypeId()));
    nr->SetSchedulerTypeId(TypeId::LookupByName(cfg.nrScheduler));
    CcBwpCreator ccBwpCreator;
    CcBwpCreator::SimpleOperationBandConf bandConf(cfg.frequencyGhz * 1e9, nrBandwidthHz, 1);
    bandConf.m_numBwp = 1;
    OperationBandInfo band = ccBwpCreator.CreateOperationBandContiguousCc(bandConf);
    Ptr<NrChannelHelper> channel = CreateObject<NrChannelHelper>();
    channel->ConfigureFactories(cfg.nrScenario, cfg.nrCondition, "ThreeGpp");
    channel->SetPathlossAttribute("ShadowingEnabled", BooleanValue(cfg.shadowing));
    channel->AssignChannelsToBands({band});
    BandwidthPartInfoPtrVector allBwps = CcBwpCreator::GetAllBwps({band});
    nr->SetGnbAntennaAttribute("NumRows", UintegerValue(cfg.gnbAntennaRows));
    nr->SetGnbAntennaAttribute("NumColumns", UintegerValue(cfg.gnbAntennaCols));
    nr->SetGnbAntennaAttribute("AntennaElement", PointerValue(CreateObject<IsotropicAntennaModel>()));
    nr->SetUeAntennaAttribute("NumRows", UintegerValue(1));
    nr->SetUeAntennaAttribute("NumColumns", UintegerValue(1));
    nr->SetUeAntennaAttribute("AntennaElement", PointerValue(CreateObject<IsotropicAntennaModel>()));
    nr->SetGnbBwpManagerAlgorithmAttribute("NGBR_LOW_LAT_EMBB", UintegerValue(0));
    nr->SetUeBwpManagerAlgorithmAttribute("NGBR_LOW_LAT_EMBB", UintegerValue(0));
    ran.m_gateway = epc->GetPgwNode();

    ran.m_bsDevs = nr->InstallGnbDevice(bsNodes, allBwps);
    ran.m_ueDevs = nr->InstallUeDevice(ueNodes, allBwps);
    nr->AssignStreams(ran.m_bsDevs, 1000);
    nr->AssignStreams(ran.m_ueDevs, 2000);
    for (uint32_t b = 0; b < ran.m_bsDevs.GetN(); ++b)
    {
        nr->GetGnbPhy(ran.m_bsDevs.Get(b), 0)->SetAttribute("Numerology", UintegerValue(cfg.numerology));
        nr->GetGnbPhy(ran.m_bsDevs.Get(b), 0)->SetAttribute("TxPower", DoubleValue(cfg.enbTxDbm));
    }
    internet.Install(ueNodes);
    ran.m_ueIfs = epc->AssignUeIpv4Address(ran.m_ueDevs);
    for (uint32_t i = 0; i < ueNodes.GetN(); ++i)
    {
        routing.GetStaticRouting(ueNodes.Get(i)->GetObject<Ipv4>())
            ->SetDefaultRoute(epc->GetUeDefaultGatewayAddress(), 1);
    }
    nr->AttachToClosestGnb(ran.m_ueDevs, ran.m_bsDevs);
    ran.m_bearer = [nr](Ptr<NetDevice> dev, uint32_t qci, const XrMarlBearerFilter& f) {
        Ptr<NrEpcTft> tft = Create<NrEpcTft>();
        tft->Add(ToPacketFilter<NrEpcTft>(f));
        nr->ActivateDedicatedEpsBearer(dev, NrEpsBearer(static_cast<NrEpsBearer::Qci>(qci)), tft);
    };
    ran.m_rnti = [](Ptr<NetDevice> dev) {
        return DynamicCast<NrUeNetDevice>(dev)->GetRrc()->GetRnti();
    };
    ran.m_txPower = [](Ptr<NetDevice> dev, double dbm) {
        DynamicCast<NrUeNetDevice>(dev)->GetPhy(0)->SetTxPower(dbm);
    };
    ran.m_sinrTrace = [](Ptr<NetDevice> dev, std::function<void(double)> f) {
        Callback<void, uint16_t, uint16_t, double, uint16_t> cb(
            [f](uint16_t, uint16_t, double sinr, uint16_t) { f(sinr); });
        DynamicCast<NrUeNetDevice>(dev)->GetPhy(0)->TraceConnectWithoutContext("DlCtrlSinr", cb);
    };
    ran.m_tracePaths.push_back({"$ns3::NrGnbNetDevice", "NrGnbRrc", "NrPdcp", "NrRlc"});
    ran.m_helper = nr;
    ran.m_epc = epc;
#else
    NS_FATAL_ERROR("XrMarlRan: this build has no NR (Check() refuses --ran=nr)");
#endif
}

Ptr<Node>
XrMarlRan::AddRemoteHost(uint32_t mtu, Time delay, Ipv4Address network, Ipv4Mask mask, DataRate rate) const
{
    NodeContainer hosts;
    hosts.Create(1);
    Ptr<Node> host = hosts.Get(0);
    InternetStackHelper internet;
    internet.Install(hosts);
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", DataRateValue(rate));
    p2p.SetDeviceAttribute("Mtu", UintegerValue(mtu));
    p2p.SetChannelAttribute("Delay", TimeValue(delay));
    NetDeviceContainer devs = p2p.Install(m_gateway, host);
    Ipv4AddressHelper ipv4h;
    ipv4h.SetBase(network, mask);
    ipv4h.Assign(devs);
    Ipv4StaticRoutingHelper routing;
    // the host's p2p interface is its interface 1 (0 is loopback)
    routing.GetStaticRouting(host->GetObject<Ipv4>())
        ->AddNetworkRouteTo(Ipv4Address("7.0.0.0"), Ipv4Mask("255.0.0.0"), 1);
    return host;
}

} // namespace ns3
