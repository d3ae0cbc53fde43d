/*
 * The radio access network and core of a scenario: one or more base stations (an LTE eNB, or a
 * 5G-LENA gNB in builds with nr, -DXRMARL_NR_ROOT=...), their UEs, the EPC with its PGW/UPF,
 * and remote hosts behind it. Which RAN is chosen when the program runs (--ran): NR by
 * default where the build has it, LTE otherwise.
 *
 *  - XrMarlRanConfig: every RAN parameter (bandwidth, carrier, tx powers, noise figures,
 *    antenna, RLC buffer, scheduler, path loss, NR numerology/array, core delay), the flags
 *    that set them (AddTo, names and help as xr-codec always had them) and their checks.
 *  - XrMarlRan::Build(): installs base stations, UEs (Internet stack, addresses, default
 *    routes, attachment) and the EPC on nodes that already have their mobility. What the
 *    scenario needs afterwards is behind RAN-agnostic calls: devices, UE interfaces, the
 *    gateway node, each UE's RNTI, dedicated bearers with port filters (downlink or uplink),
 *    the trace paths of the base station's PDCP/RLC, and remote hosts on the core side.
 *
 * The construction order (Config defaults, helpers, devices, stream numbers, Internet
 * stacks, attachment) is the one xr-codec has always used, so that its results stay
 * bit-identical: change it only knowingly.
 */
#ifndef XRMARL_RAN_H
#define XRMARL_RAN_H

#include "ns3/command-line.h"
#include "ns3/data-rate.h"
#include "ns3/internet-stack-helper.h"
#include "ns3/ipv4-address.h"
#include "ns3/ipv4-interface-container.h"
#include "ns3/net-device-container.h"
#include "ns3/node-container.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/simple-ref-count.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ns3
{

/// RAN and core parameters; the member names are the command-line flags' names.
struct XrMarlRanConfig
{
    std::string ran;              ///< "nr" or "lte"; empty: DefaultRan()
    uint32_t bandwidthRbs{100};   ///< LTE bandwidth (6, 15, 25, 50, 75, 100 RBs)
    double bandwidthMhz{-1};      ///< -1: not given; LTE: sets bandwidthRbs; NR: the bandwidth
    uint32_t rlcBufferBytes{60000}; ///< RLC UM MaxTxBufferSize
    uint32_t rlcBufferAlias{0};     ///< --rlcBuffer (0: not given)
    std::string rlcMode{"um"};      ///< RLC of the data bearers: um (unacknowledged) or am
    double frequencyGhz{4.0};       ///< carrier of the path loss
    double enbTxDbm{43.0};          ///< base station transmit power
    double gnbTxPowerAlias{std::nan("")}; ///< --gnbTxPower (NaN: not given)
    double ueTxDbm{26.0};           ///< UE transmit power (uplink)
    double enbNoiseFigure{5.0};
    double ueNoiseFigure{7.0};
    double enbAntennaGainDb{0.0};   ///< LTE: isotropic eNB antenna gain
    double enbHeight{25.0};         ///< base station antenna height (m)
    bool shadowing{true};           ///< 3GPP shadowing
    std::string scheduler{"ns3::PfFfMacScheduler"}; ///< LTE MAC scheduler
    double coreDelayMs{1.0};        ///< remote host <-> PGW one-way delay
    // not on the command line (xr-codec's fixed choices), for other scenarios to change
    std::string pathlossModel{"ns3::ThreeGppUmaPropagationLossModel"}; ///< LTE path loss
    bool alwaysNlos{true};          ///< LTE: NeverLosChannelConditionModel
    uint32_t srsPeriodicity{20};    ///< LTE SRS periodicity (ms)
    std::string nrScenario{"UMa"};  ///< NR channel scenario
    std::string nrCondition{"NLOS"}; ///< NR channel condition
    // NR only
    uint32_t numerology{2};
    uint32_t gnbAntennaRows{4};
    uint32_t gnbAntennaCols{8};
    std::string nrScheduler{"ns3::NrMacSchedulerOfdmaPF"};

    /// Register the RAN flags (ran, bandwidthRbs, rlcBufferBytes, frequencyGhz, enbTxDbm, ueTxDbm,
    /// enbNoiseFigure, ueNoiseFigure, enbAntennaGainDb, enbHeight, shadowing, scheduler,
    /// coreDelayMs, the NR ones, and the aliases bandwidthMhz, rlcBuffer, gnbTxPower).
    void AddTo(CommandLine& cmd);
    /// After cmd.Parse(): apply the aliases and check what the RAN can build; a bad value
    /// ends the process with XrMarlUsageError(program, ...).
    void Check(const std::string& program);

    /// True when this program was built with 5G-LENA's nr module.
    static bool HasNr();
    /// The RAN used without --ran: "nr" in builds with nr, else "lte".
    static std::string DefaultRan();
    /// True when the chosen RAN is NR (valid after Check()).
    bool IsNr() const
    {
        return ran == "nr";
    }

    /// The bandwidth in MHz actually used (LTE: bandwidthRbs / 5; NR: bandwidthMhz or 20).
    double EffectiveBandwidthMhz() const;
};

/// True for the standardised QCIs of Release 15 (what EpsBearer accepts).
bool XrMarlIsStandardQci(uint32_t qci);

/// Which packets a dedicated bearer carries (EpcTft::PacketFilter's fields, RAN-agnostic).
struct XrMarlBearerFilter
{
    enum Direction
    {
        DOWNLINK,
        UPLINK,
        BIDIRECTIONAL
    };

    Direction direction{BIDIRECTIONAL};
    uint16_t localPortStart{0}; ///< UE-side port range
    uint16_t localPortEnd{65535};
    uint16_t remotePortStart{0}; ///< remote-host-side port range
    uint16_t remotePortEnd{65535};

    /// Packets to or from this UE port, in this direction.
    static XrMarlBearerFilter UePort(Direction d, uint16_t port);
};

/// Where the base station's per-bearer PDCP and RLC objects live in the Config namespace:
/// /NodeList/*/DeviceList/*/<device>/<rrc>/UeMap/*/DataRadioBearerMap/*/<pdcp|rlc>.
struct XrMarlRlcTracePath
{
    std::string device; ///< e.g. "$ns3::LteEnbNetDevice"
    std::string rrc;    ///< e.g. "LteEnbRrc"
    std::string pdcp;   ///< e.g. "LtePdcp"
    std::string rlc;    ///< e.g. "LteRlc"
};

/// Mean downlink SINR (dB) a UE measured over a window, from XrMarlRan::TraceDlSinr samples.
class XrMarlDlSinrMeter : public SimpleRefCount<XrMarlDlSinrMeter>
{
  public:
    /// One sample, linear (ignored unless finite and > 0).
    void Add(double sinrLinear);
    /// The mean of this window's samples in dB, then a new window; a window without samples
    /// repeats the last mean (0 dB before the first).
    double CloseWindow();

  private:
    double m_sumDb{0};
    uint64_t m_n{0};
    double m_lastDb{0};
};

/// A built RAN + EPC (see the file comment). Copyable; the helpers stay alive with it.
class XrMarlRan
{
  public:
    /// `n` base-station nodes with a constant position: the first at (0, 0, enbHeight), the
    /// others to be placed by the scenario. Create them before the UE nodes.
    static NodeContainer CreateBaseStations(const XrMarlRanConfig& cfg, uint32_t n = 1);

    /**
     * Install the RAN on `bsNodes` and `ueNodes` (both with mobility already), the EPC, the
     * UEs' Internet stack, addresses and default routes, and attach every UE (to the only
     * base station, or the closest one). Uses stream numbers 1000.. (base stations),
     * 2000.. (UEs) and 3000.. (path loss).
     */
    static XrMarlRan Build(const XrMarlRanConfig& cfg, NodeContainer bsNodes, NodeContainer ueNodes);

    /// "lte" or "nr".
    const std::string& Name() const
    {
        return m_name;
    }

    const NetDeviceContainer& BsDevices() const
    {
        return m_bsDevs;
    }

    const NetDeviceContainer& UeDevices() const
    {
        return m_ueDevs;
    }

    /// The UEs' EPC interfaces (7.0.0.0/8), in UE order.
    const Ipv4InterfaceContainer& UeInterfaces() const
    {
        return m_ueIfs;
    }

    /// The PGW (LTE) / UPF (NR) node, where remote hosts connect.
    Ptr<Node> Gateway() const
    {
        return m_gateway;
    }

    /// The UE's RNTI at its base station (valid once attached, i.e. during the simulation).
    uint16_t Rnti(Ptr<NetDevice> ueDev) const;

    /// Set the UE's maximum transmit power (dBm) from now on (LTE: the power control's
    /// P_CMAX; NR: the PHY's transmit power).
    void SetUeTxPower(Ptr<NetDevice> ueDev, double dbm) const;
    /// Call `sinr` with every downlink SINR sample (linear) the UE's PHY measures from now on
    /// (LTE: LteUePhy ReportCurrentCellRsrpSinr, each control reception; NR: NrUePhy
    /// DlCtrlSinr, each PDCCH reception): the channel quality the UE itself sees.
    void TraceDlSinr(Ptr<NetDevice> ueDev, std::function<void(double)> sinr) const;
    /// A dedicated EPS bearer of this QCI for the UE, carrying the packets `filter` matches.
    void ActivateDedicatedBearer(Ptr<NetDevice> ueDev, uint32_t qci, const XrMarlBearerFilter& filter) const;

    /// The PDCP/RLC trace locations at the base stations, to try in this order.
    const std::vector<XrMarlRlcTracePath>& RlcTracePaths() const
    {
        return m_tracePaths;
    }

    /**
     * A remote host behind the gateway: a point-to-point link (10 Gb/s, this MTU, this
     * one-way delay) on the given network, and a route from the host to the UEs. Several
     * hosts need several networks (e.g. 1.0.0.0/8, 2.0.0.0/8).
     */
    Ptr<Node> AddRemoteHost(uint32_t mtu,
                            Time delay,
                            Ipv4Address network = Ipv4Address("1.0.0.0"),
                            Ipv4Mask mask = Ipv4Mask("255.0.0.0"),
                            DataRate rate = DataRate("10Gb/s")) const;

  private:
    XrMarlRan() = default;
    /// Build() for an LTE eNB (ns-3's lte module).
    static void BuildLte(XrMarlRan& ran, const XrMarlRanConfig& cfg, NodeContainer bs, NodeContainer ue);
    /// Build() for a 5G-LENA gNB (builds with nr only).
    static void BuildNr(XrMarlRan& ran, const XrMarlRanConfig& cfg, NodeContainer bs, NodeContainer ue);

    std::string m_name;
    NetDeviceContainer m_bsDevs;
    NetDeviceContainer m_ueDevs;
    Ipv4InterfaceContainer m_ueIfs;
    Ptr<Node> m_gateway;
    Ptr<Object> m_helper; ///< LteHelper / NrHelper, kept alive with the RAN
    Ptr<Object> m_epc;    ///< the EPC helper, likewise
    std::function<uint16_t(Ptr<NetDevice>)> m_rnti;
    std::function<void(Ptr<NetDevice>, double)> m_txPower;
    std::function<void(Ptr<NetDevice>, std::function<void(double)>)> m_sinrTrace;
    std::function<void(Ptr<NetDevice>, uint32_t, const XrMarlBearerFilter&)> m_bearer;
    std::vector<XrMarlRlcTracePath> m_tracePaths;
};

} // namespace ns3

#endif // XRMARL_RAN_H
