/*
 * MecServer: an edge server as an ns-3 application with a real compute queue.
 *
 * Tasks arrive as UDP packets carrying a MecTaskHeader; once every byte of a task's upload has
 * arrived the task joins the compute queue, served FIFO (one task at a time at the full
 * capacity) or by processor sharing (every task at capacity / n). A finished task's result
 * goes back to where the upload came from, segmented into packets. A full server (Slots, or
 * MemoryGb with the tasks' memory), or a task whose upload ended after its deadline, is
 * refused with a REJECTED packet; an admitted one is acknowledged with ACCEPTED (both
 * stamped with the time the upload ended, so that the device knows its upload time). Fail() loses every queued and half-uploaded task and
 * drops what arrives until Repair(): the devices see their uploads time out.
 */
#ifndef XRMARL_MEC_SERVER_H
#define XRMARL_MEC_SERVER_H

#include "mec-task-header.h"

#include "ns3/address.h"
#include "ns3/application.h"
#include "ns3/event-id.h"
#include "ns3/socket.h"
#include "ns3/traced-callback.h"

#include <list>
#include <map>
#include <string>
#include <utility>

namespace ns3
{

class MecServer : public Application
{
  public:
    static TypeId GetTypeId();
    MecServer();
    ~MecServer() override;

    /// Lose every task in the system and refuse new ones until Repair().
    void Fail();
    /// Serve again (with an empty queue).
    void Repair();
    bool IsUp() const;
    /// Tasks in the system (queued or in service).
    uint32_t GetBacklog() const;
    /// Cycles of work left in the system now.
    double GetBacklogCycles();
    /// Memory (GB) the tasks in the system hold.
    double GetMemoryUsedGb() const;
    /// Seconds the server has computed (had work) since the start.
    double GetBusySeconds();
    /// Compute capacity, cycles/s.
    double GetCapacity() const
    {
        return m_capacityHz;
    }
    /// Memory capacity, GB (infinite when 0 was set).
    double GetMemoryGb() const;
    /// Slots (0: unlimited).
    uint32_t GetSlots() const
    {
        return m_slots;
    }

    uint64_t GetAdmitted() const;
    uint64_t GetCompleted() const;
    uint64_t GetRejected() const;
    uint64_t GetLost() const;

  protected:
    void DoDispose() override;

  private:
    struct Job
    {
        MecTaskHeader header;
        Address from;
        double remaining; ///< cycles
        Time admitted;
    };

    void StartApplication() override;
    void StopApplication() override;
    void HandleRead(Ptr<Socket> socket);
    void Admit(const MecTaskHeader& header, const Address& from);
    /// Bring every job's remaining work up to now.
    void Advance();
    /// (Re)schedule the next completion.
    void Reschedule();
    void OnCompletion();
    void Send(const MecTaskHeader& header, uint32_t kind, uint32_t bytes, const Address& to);

    uint16_t m_port;
    double m_capacityHz;
    std::string m_discipline;
    uint32_t m_slots;
    uint32_t m_packetSize;
    double m_memoryGb;
    double m_memUsedGb{0};
    double m_busySeconds{0};

    Ptr<Socket> m_socket;
    std::list<Job> m_jobs;                                      ///< FIFO order of admission
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> m_partial; ///< (device, task) -> bytes in
    Time m_lastUpdate;
    EventId m_next;
    bool m_up{true};
    uint64_t m_admitted{0};
    uint64_t m_completed{0};
    uint64_t m_rejected{0};
    uint64_t m_lost{0};

    /// A task finished: its header and its time at the server (queue + compute).
    TracedCallback<const MecTaskHeader&, Time> m_completeTrace;
};

} // namespace ns3

#endif
