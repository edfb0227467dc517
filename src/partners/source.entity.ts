import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryGeneratedColumn } from 'typeorm';
import { Agency, type AgencyKind } from './agency.entity';

@Entity({ name: 'source' })
export class Source {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('text') code!: string;
  @Column('text') name!: string;
  @Column('text') kind!: AgencyKind;
  @Column('uuid', { name: 'agency_id' }) agencyId!: string;
  @ManyToOne(() => Agency) @JoinColumn({ name: 'agency_id' }) agency?: Agency;
  @Column('timestamptz', { name: 'disabled_at', nullable: true }) disabledAt!: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
