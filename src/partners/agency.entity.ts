import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

export const AGENCY_KINDS = ['court', 'jail', 'provider', 'other'] as const;
export type AgencyKind = (typeof AGENCY_KINDS)[number];

@Entity({ name: 'agency' })
export class Agency {
  @PrimaryGeneratedColumn('uuid') id!: string;
  @Column('text') code!: string;
  @Column('text') name!: string;
  @Column('text') kind!: AgencyKind;
  /** A 42 CFR Part 2 program: even the fact of a relationship is protected. */
  @Column('boolean') part2!: boolean;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt!: Date;
}
